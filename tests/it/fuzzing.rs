//! Every committed fuzz corpus file, seed and crash input, through the fuzz
//! targets' own bodies (`bewahr::fuzzing`): what the fuzzers found stays fixed.

use std::path::PathBuf;

use bewahr::fuzzing::TARGETS;

fn files(dir: &str) -> Vec<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut v: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    v.sort();
    v
}

#[test]
fn every_corpus_replays() {
    let mut total = 0;
    for (name, body) in TARGETS {
        let seeds = files(&format!("tests/fuzz/seeds/{name}"));
        assert!(!seeds.is_empty(), "{name} has no seeds");
        // what the fuzzers found (minimised), then the seeds
        for p in files(&format!("tests/fuzz/corpus/{name}"))
            .into_iter()
            .chain(seeds)
        {
            let data = std::fs::read(&p).unwrap();
            body(&data);
            total += 1;
        }
    }
    assert!(total > 1000, "{total} corpus files");
}

#[test]
fn crash_inputs_replay_through_every_target() {
    let crashes = files("tests/vectors/fuzz");
    assert!(!crashes.is_empty());
    for p in crashes {
        let data = std::fs::read(&p).unwrap();
        for (_, body) in TARGETS {
            body(&data);
        }
    }
}

#[test]
fn truncations_and_bit_flips_of_each_seed() {
    // a cheap stand-in for the fuzzers between their runs: every prefix
    // length of every 16th byte, and one flipped bit per 64 bytes, of the
    // small seeds
    for (name, body) in TARGETS {
        for p in files(&format!("tests/fuzz/seeds/{name}")) {
            let data = std::fs::read(&p).unwrap();
            if data.len() > 16 << 10 {
                continue;
            }
            for cut in (0..data.len()).step_by(16) {
                body(&data[..cut]);
            }
            for i in (0..data.len()).step_by(64) {
                let mut d = data.clone();
                d[i] ^= 0x10;
                body(&d);
            }
        }
    }
}
