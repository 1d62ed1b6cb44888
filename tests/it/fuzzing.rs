//! Every committed fuzz corpus file and crash input, through the fuzz
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
        let corpus = files(&format!("tests/fuzz/corpus/{name}"));
        assert!(!corpus.is_empty(), "the corpus of {name} is empty");
        for p in corpus {
            let data = std::fs::read(&p).unwrap();
            body(&data);
            total += 1;
        }
    }
    assert!(total > 50, "{total} corpus files");
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
        for p in files(&format!("tests/fuzz/corpus/{name}")) {
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
