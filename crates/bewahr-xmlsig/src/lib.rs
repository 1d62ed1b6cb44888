//! XML signatures for bewahr's validator: W3C XML-DSig 1.1 reference
//! processing and the XAdES properties of ETSI EN 319 132-1 (baseline B,
//! T, LT, LTA), as the [`XmlSignatures`] engine the evidence core's
//! `signature` module calls; and RFC 6283 (XML) evidence records ([`ers`]),
//! read into the core verifier's walk.
//!
//! This crate checks what is particular to XML: it finds each
//! `ds:Signature`, dereferences and transforms its references
//! ([`reference`]), canonicalises `ds:SignedInfo` and verifies the
//! signature value, and reads the XAdES qualifying properties
//! ([`xades`]): the signing certificate reference, the signing time, the
//! signature time-stamps (over the canonical `ds:SignatureValue` element)
//! and the validation data of LT and LTA. Certificate paths, the
//! time-stamps' TSAs, revocation and the EN 319 102-1 verdict are the
//! core's, shared with CAdES and PAdES.
//!
//! Parsing, canonicalisation and XPath go through libxml2 (the XAIP
//! crate's `xml` module): DTDs are refused (no entity expansion, no
//! external entities), the network is closed, libxml2's default limits on
//! depth and sizes hold, and references to anything outside the document
//! resolve only to what the caller hands in (the detached document, an
//! ASiC container's data objects), never to a file or URL.

#![forbid(unsafe_code)]

pub mod ers;
pub mod reference;
pub mod uris;
pub mod xades;

use bewahr_core::signature::{XmlChecked, XmlSignatures};

/// The engine to plug into `bewahr_core::signature::Context::xml`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Engine;

/// The engine, for `Context { xml: Some(&bewahr_xmlsig::ENGINE), .. }`.
pub static ENGINE: Engine = Engine;

impl XmlSignatures for Engine {
    fn check(
        &self,
        xml: &[u8],
        external: &dyn Fn(&str) -> Option<Vec<u8>>,
        id: &str,
    ) -> XmlChecked {
        xades::check_document(xml, external, id)
    }
}
