//! TR-ESOR archive packages (XAIP, TR-ESOR-F 1.3): reading a package and
//! the protected objects of a version exactly as TR-ESOR-ERS hashes them,
//! so that an evidence record over a version can be checked against the
//! package (`bewahr verify --xaip`).
//!
//! XML is parsed, canonicalised ([`xml`]) and validated against the XAIP
//! schema ([`schema`], the schemas embedded) by libxml2. The only `unsafe`
//! code is at those two calls into libxml2, and each says why.

pub mod digest_list;
pub mod lxaip;
pub mod package;
pub mod schema;
pub mod select;
pub mod submission;
pub mod update;
pub mod xml;

pub use lxaip::Reference;
pub use package::{EmbeddedRecord, ObjectKind, ProtectedObject, References, Xaip, XaipError};
pub use submission::{EmbeddedSignature, Refusal, SignatureForm, VersionFacts};
pub use update::{History, UpdateRefusal};
pub use xml::C14n;

/// A C.2 file (`../shared` beside the clone, as in CI), for the tests.
#[cfg(test)]
pub(crate) fn c2(name: &str) -> Option<Vec<u8>> {
    const C2: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/conformance/tr-esor-c2/TESTDATA/"
    );
    Some(std::fs::read(format!("{C2}{name}")).unwrap_or_else(|e| {
        panic!("{C2}{name}: {e} (the C.2 data belongs in ../shared beside the clone)")
    }))
}
