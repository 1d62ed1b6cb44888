//! `bewahr verify` on the command line: exit codes, JSON, bad input.

use crate::support::*;

#[test]
fn usage_errors_exit_2() {
    let o = run(bewahr().args(["verify", "--er", "/nonexistent.ers"]));
    assert_eq!(o.status.code(), Some(2));
    let er = c2("ER_OK_SHA256_DGN_XAIP_OK_SIG_OK.ers");
    for bad in [
        vec!["--digest", "sha256:zz"],
        vec!["--digest", "md5:00"],
        vec!["--digest", "sha256:00"],
        vec!["--at", "yesterday"],
        vec!["--tsa-cert", "/nonexistent.pem"],
    ] {
        let o = run(bewahr().arg("verify").arg("--er").arg(&er).args(&bad));
        assert_eq!(o.status.code(), Some(2), "{bad:?}");
        assert!(!o.stderr.is_empty(), "{bad:?} says what is wrong");
    }
}

#[test]
fn garbage_and_truncated_records_fail_with_format_failure() {
    let dir = tempdir();
    let good = std::fs::read(c2("ER_OK_SHA256_DGN_XAIP_OK_SIG_OK.ers")).unwrap();
    for (name, bytes) in [
        ("empty", vec![]),
        ("garbage", b"not DER at all".to_vec()),
        ("truncated", good[..good.len() / 2].to_vec()),
        ("trailing", [good.clone(), vec![0]].concat()),
    ] {
        let p = dir.path().join(name);
        std::fs::write(&p, &bytes).unwrap();
        let o = run(bewahr().args(["verify", "--json", "--er"]).arg(&p));
        assert_eq!(o.status.code(), Some(1), "{name}");
        let j = json(&o);
        assert_eq!(j["indication"], "FAILED", "{name}");
        assert_eq!(j["sub_indication"], "FORMAT_FAILURE", "{name}");
    }
}

#[test]
fn text_report_names_each_time_stamp_and_the_result() {
    let o = run(bewahr()
        .args(["verify", "--at", "2022-08-01T00:00:00Z", "--er"])
        .arg(c2("ER_OK_SHA512_DGN_XAIP_OK_SIG_OK.ers")));
    let s = stdout(&o);
    assert!(
        s.contains("genTime") && s.contains("DGN") && s.contains("sha512"),
        "{s}"
    );
    assert!(s.contains("Data: NOT checked"), "{s}");
    assert!(
        s.lines()
            .last()
            .unwrap()
            .starts_with("Result: INDETERMINATE"),
        "{s}"
    );
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn a_broken_record_exits_1() {
    let o = run(bewahr()
        .args(["verify", "--er"])
        .arg(c2("ER_NOK_SHA512_DGN_XAIP_OK_SIG_OK.ers")));
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("HASH_FAILURE"));
}
