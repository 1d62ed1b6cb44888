//! Evidence records from untrusted bytes: decode, re-encode, verify without data.
#![no_main]

use bewahr::ers::EvidenceRecord;
use bewahr::verify::{self, AlgorithmPolicy, NoData, Options};
use der::Encode;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(er) = EvidenceRecord::from_der_checked(data) {
        // what decodes re-encodes to the same bytes
        assert_eq!(er.to_der().unwrap(), data);
    }
    let policy = AlgorithmPolicy::default();
    let opts = Options { trusted: &[], extra_certificates: &[], at: time::OffsetDateTime::UNIX_EPOCH, policy: &policy };
    let _ = verify::verify_der(data, &mut NoData, &opts);
});
