//! XSD validation of packages against `tr-esor-xaip-v1.3.xsd` and the
//! schemas it imports (XML-DSig, XAdES 1.3.2, OASIS DSS 1.0, the DSS-X
//! verification report, SAML 1.1 protocol and 2.0 assertions, XML
//! encryption, RFC 6283, xmlmime, xml.xsd), by libxml2's validator.
//!
//! The schemas are embedded in the binary (copied from BSI's repository,
//! see `schemas/PROVENANCE.md`) and served to libxml2 under the URI
//! scheme `bewahr-schemas:` by input callbacks registered here, so the
//! imports resolve without the file system or the network. Registering
//! callbacks and handing libxml2 their bytes needs `unsafe`; it is the
//! second and last place in this crate.

use std::ffi::{c_char, c_int, c_void, CStr};
use std::sync::Once;

use libxml::bindings::{
    xmlCatalogAllow_XML_CATA_ALLOW_NONE, xmlCatalogSetDefaults, xmlInitializeCatalog,
    xmlRegisterInputCallbacks,
};
use libxml::schemas::{SchemaParserContext, SchemaValidationContext};
use libxml::tree::{Document, Node};

/// The URI prefix the embedded schemas are known by.
const BASE: &str = "bewahr-schemas:///";

/// Every schema and WSDL of TR-ESOR 1.3 (S.4, XAIP, TS 119 512 and their
/// imports), by path below [`BASE`]: the validators load them from here,
/// and the S.4 and TS 119 512 interfaces serve them to clients.
static SCHEMAS: &[(&str, &[u8])] = &[
    (
        "tr-esor-1.3/19512-EvidenceExchange_V.1.1.2.xsd",
        include_bytes!("../schemas/tr-esor-1.3/19512-EvidenceExchange_V.1.1.2.xsd"),
    ),
    (
        "tr-esor-1.3/19512-Preservation-API_V.1.1.2.wsdl",
        include_bytes!("../schemas/tr-esor-1.3/19512-Preservation-API_V.1.1.2.wsdl"),
    ),
    (
        "tr-esor-1.3/19512-Preservation-API_V.1.1.2.xsd",
        include_bytes!("../schemas/tr-esor-1.3/19512-Preservation-API_V.1.1.2.xsd"),
    ),
    (
        "tr-esor-1.3/deps/ISO24727-3.xsd",
        include_bytes!("../schemas/tr-esor-1.3/deps/ISO24727-3.xsd"),
    ),
    (
        "tr-esor-1.3/deps/ISO24727-Protocols.xsd",
        include_bytes!("../schemas/tr-esor-1.3/deps/ISO24727-Protocols.xsd"),
    ),
    (
        "tr-esor-1.3/deps/ISOCommon.xsd",
        include_bytes!("../schemas/tr-esor-1.3/deps/ISOCommon.xsd"),
    ),
    (
        "tr-esor-1.3/deps/ISOIFD.xsd",
        include_bytes!("../schemas/tr-esor-1.3/deps/ISOIFD.xsd"),
    ),
    (
        "tr-esor-1.3/deps/TS119102-2-v122.xsd",
        include_bytes!("../schemas/tr-esor-1.3/deps/TS119102-2-v122.xsd"),
    ),
    (
        "tr-esor-1.3/deps/XAdES01903v132-201601.xsd",
        include_bytes!("../schemas/tr-esor-1.3/deps/XAdES01903v132-201601.xsd"),
    ),
    (
        "tr-esor-1.3/deps/XAdES01903v141-201601.xsd",
        include_bytes!("../schemas/tr-esor-1.3/deps/XAdES01903v141-201601.xsd"),
    ),
    (
        "tr-esor-1.3/deps/XAdESv111.xsd",
        include_bytes!("../schemas/tr-esor-1.3/deps/XAdESv111.xsd"),
    ),
    (
        "tr-esor-1.3/deps/XAdESv122.xsd",
        include_bytes!("../schemas/tr-esor-1.3/deps/XAdESv122.xsd"),
    ),
    (
        "tr-esor-1.3/deps/XAdESv141.xsd",
        include_bytes!("../schemas/tr-esor-1.3/deps/XAdESv141.xsd"),
    ),
    (
        "tr-esor-1.3/deps/eCard.xsd",
        include_bytes!("../schemas/tr-esor-1.3/deps/eCard.xsd"),
    ),
    (
        "tr-esor-1.3/deps/ecdsa.xsd",
        include_bytes!("../schemas/tr-esor-1.3/deps/ecdsa.xsd"),
    ),
    (
        "tr-esor-1.3/deps/en_31916201v010101.xsd",
        include_bytes!("../schemas/tr-esor-1.3/deps/en_31916201v010101.xsd"),
    ),
    (
        "tr-esor-1.3/deps/oasis-dss-base-schema.xsd",
        include_bytes!("../schemas/tr-esor-1.3/deps/oasis-dss-base-schema.xsd"),
    ),
    (
        "tr-esor-1.3/deps/oasis-dss-core-schema-v1.0-os.xsd",
        include_bytes!("../schemas/tr-esor-1.3/deps/oasis-dss-core-schema-v1.0-os.xsd"),
    ),
    (
        "tr-esor-1.3/deps/oasis-dss-metadata-schema.xsd",
        include_bytes!("../schemas/tr-esor-1.3/deps/oasis-dss-metadata-schema.xsd"),
    ),
    (
        "tr-esor-1.3/deps/oasis-dss-nslist-schema.xsd",
        include_bytes!("../schemas/tr-esor-1.3/deps/oasis-dss-nslist-schema.xsd"),
    ),
    (
        "tr-esor-1.3/deps/oasis-dss-rw-xmldsig-core-schema.xsd",
        include_bytes!("../schemas/tr-esor-1.3/deps/oasis-dss-rw-xmldsig-core-schema.xsd"),
    ),
    (
        "tr-esor-1.3/deps/oasis-dssx-1.0-profiles-verification-report-cs1.xsd",
        include_bytes!(
            "../schemas/tr-esor-1.3/deps/oasis-dssx-1.0-profiles-verification-report-cs1.xsd"
        ),
    ),
    (
        "tr-esor-1.3/deps/oasis-sstc-saml-schema-protocol-1.1.xsd",
        include_bytes!("../schemas/tr-esor-1.3/deps/oasis-sstc-saml-schema-protocol-1.1.xsd"),
    ),
    (
        "tr-esor-1.3/deps/saml-schema-assertion-2.0.xsd",
        include_bytes!("../schemas/tr-esor-1.3/deps/saml-schema-assertion-2.0.xsd"),
    ),
    (
        "tr-esor-1.3/deps/ts_119612v020201_201601xsd.xsd",
        include_bytes!("../schemas/tr-esor-1.3/deps/ts_119612v020201_201601xsd.xsd"),
    ),
    (
        "tr-esor-1.3/deps/xenc-schema.xsd",
        include_bytes!("../schemas/tr-esor-1.3/deps/xenc-schema.xsd"),
    ),
    (
        "tr-esor-1.3/deps/xml-ers-rfc6283.xsd",
        include_bytes!("../schemas/tr-esor-1.3/deps/xml-ers-rfc6283.xsd"),
    ),
    (
        "tr-esor-1.3/deps/xml.xsd",
        include_bytes!("../schemas/tr-esor-1.3/deps/xml.xsd"),
    ),
    (
        "tr-esor-1.3/deps/xmldsig-core-schema.xsd",
        include_bytes!("../schemas/tr-esor-1.3/deps/xmldsig-core-schema.xsd"),
    ),
    (
        "tr-esor-1.3/deps/xmlers-schema-draft-v0.3.xsd",
        include_bytes!("../schemas/tr-esor-1.3/deps/xmlers-schema-draft-v0.3.xsd"),
    ),
    (
        "tr-esor-1.3/deps/xmlmime.xsd",
        include_bytes!("../schemas/tr-esor-1.3/deps/xmlmime.xsd"),
    ),
    (
        "tr-esor-1.3/tr-esor-S-4-v1.3.wsdl",
        include_bytes!("../schemas/tr-esor-1.3/tr-esor-S-4-v1.3.wsdl"),
    ),
    (
        "tr-esor-1.3/tr-esor-interfaces-v1.3.xsd",
        include_bytes!("../schemas/tr-esor-1.3/tr-esor-interfaces-v1.3.xsd"),
    ),
    (
        "tr-esor-1.3/tr-esor-verification-report-v1.3.xsd",
        include_bytes!("../schemas/tr-esor-1.3/tr-esor-verification-report-v1.3.xsd"),
    ),
    (
        "tr-esor-1.3/tr-esor-xaip-v1.3-Profil_XBDP_v1.0.xsd",
        include_bytes!("../schemas/tr-esor-1.3/tr-esor-xaip-v1.3-Profil_XBDP_v1.0.xsd"),
    ),
    (
        "tr-esor-1.3/tr-esor-xaip-v1.3.xsd",
        include_bytes!("../schemas/tr-esor-1.3/tr-esor-xaip-v1.3.xsd"),
    ),
];

/// The XAIP schema's URI.
const XAIP_XSD: &str = "bewahr-schemas:///tr-esor-1.3/tr-esor-xaip-v1.3.xsd";

fn lookup(uri: &str) -> Option<&'static [u8]> {
    let path = uri.strip_prefix(BASE)?;
    SCHEMAS.iter().find(|(p, _)| *p == path).map(|(_, b)| *b)
}

/// One schema being read by libxml2.
struct Reading {
    bytes: &'static [u8],
    pos: usize,
}

unsafe extern "C" fn matches(uri: *const c_char) -> c_int {
    if uri.is_null() {
        return 0;
    }
    // SAFETY: libxml2 passes a NUL-terminated URI.
    let uri = unsafe { CStr::from_ptr(uri) };
    c_int::from(uri.to_str().ok().and_then(lookup).is_some())
}

unsafe extern "C" fn open(uri: *const c_char) -> *mut c_void {
    if uri.is_null() {
        return std::ptr::null_mut();
    }
    // SAFETY: as in `matches`.
    let uri = unsafe { CStr::from_ptr(uri) };
    match uri.to_str().ok().and_then(lookup) {
        Some(bytes) => Box::into_raw(Box::new(Reading { bytes, pos: 0 })) as *mut c_void,
        None => std::ptr::null_mut(),
    }
}

unsafe extern "C" fn read(ctx: *mut c_void, buffer: *mut c_char, len: c_int) -> c_int {
    if ctx.is_null() || buffer.is_null() || len < 0 {
        return -1;
    }
    // SAFETY: `ctx` is a `Reading` from `open` (libxml2 hands it back
    // until `close`), `buffer` has room for `len` bytes.
    unsafe {
        let r = &mut *(ctx as *mut Reading);
        let n = (r.bytes.len() - r.pos).min(len as usize);
        std::ptr::copy_nonoverlapping(r.bytes.as_ptr().add(r.pos), buffer as *mut u8, n);
        r.pos += n;
        n as c_int
    }
}

unsafe extern "C" fn close(ctx: *mut c_void) -> c_int {
    if !ctx.is_null() {
        // SAFETY: `ctx` came from `Box::into_raw` in `open` and is closed once.
        drop(unsafe { Box::from_raw(ctx as *mut Reading) });
    }
    0
}

/// Sets libxml2 up once per process, before any thread parses: the
/// parser, the embedded schemas' input callbacks, and no catalogs.
///
/// libxml2 2.9 creates its catalog mutex lazily, unguarded: two threads
/// that load their first schema import at the same moment could both
/// create it and then wait on it forever (seen in CI, both threads in
/// `xmlRMutexLock` under `xmlCatalogResolve`). Catalogs are a file-system
/// input (`/etc/xml/catalog`) the archive must not depend on anyway, since
/// every import resolves from the embedded set: they are initialised here
/// on one thread and then switched off.
pub(crate) fn init_libxml2() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // initialise the parser before touching its callback table
        let _ = libxml::parser::Parser::default();
        // SAFETY: called once, before any other libxml2 use of this crate
        // can reach the catalogs; the callbacks above are valid for the
        // life of the process and libxml2 copies the function pointers
        // into its table.
        unsafe {
            xmlInitializeCatalog();
            xmlCatalogSetDefaults(xmlCatalogAllow_XML_CATA_ALLOW_NONE);
            xmlRegisterInputCallbacks(Some(matches), Some(open), Some(read), Some(close));
        }
    });
}

/// What a schema says is wrong with a document, one line per finding.
#[derive(Debug, thiserror::Error)]
#[error("not valid against {schema}: {}", .findings.join("; "))]
pub struct SchemaErrors {
    /// The schema's file name.
    pub schema: &'static str,
    pub findings: Vec<String>,
}

/// An embedded schema or WSDL by its path below `tr-esor-1.3/`'s parent
/// (`"tr-esor-1.3/deps/xml.xsd"`), as BSI published it.
pub fn file(path: &str) -> Option<&'static [u8]> {
    SCHEMAS.iter().find(|(p, _)| *p == path).map(|(_, b)| *b)
}

/// Every embedded schema and WSDL: `(path, bytes)`.
pub fn files() -> impl Iterator<Item = (&'static str, &'static [u8])> {
    SCHEMAS.iter().copied()
}

/// The schemas a document can be validated against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Schema {
    /// `tr-esor-xaip-v1.3.xsd`: XAIP, DXAIP, LXAIP.
    Xaip,
    /// `tr-esor-interfaces-v1.3.xsd`: the S.4 requests and responses (and,
    /// through its imports, DSS 1.0, TS 119 512 and the eCard types).
    S4,
    /// `xml-ers-rfc6283.xsd`: RFC 6283 evidence records.
    Ers,
}

impl Schema {
    fn uri(self) -> &'static str {
        match self {
            Schema::Xaip => XAIP_XSD,
            Schema::S4 => "bewahr-schemas:///tr-esor-1.3/tr-esor-interfaces-v1.3.xsd",
            Schema::Ers => "bewahr-schemas:///tr-esor-1.3/deps/xml-ers-rfc6283.xsd",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Schema::Xaip => "tr-esor-xaip-v1.3.xsd",
            Schema::S4 => "tr-esor-interfaces-v1.3.xsd",
            Schema::Ers => "xml-ers-rfc6283.xsd",
        }
    }
}

thread_local! {
    // Compiling a schema with its imports takes milliseconds (the S.4 one
    // tens of them); a compiled one is kept per thread (libxml2's contexts
    // are not to be shared between threads).
    static COMPILED: std::cell::RefCell<Vec<(Schema, SchemaValidationContext)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// Validates a parsed package against the XAIP schema.
pub fn validate(doc: &Document) -> Result<(), SchemaErrors> {
    validate_against(doc, Schema::Xaip)
}

/// Validates a parsed document against one of the embedded schemas.
pub fn validate_against(doc: &Document, schema: Schema) -> Result<(), SchemaErrors> {
    with_schema(schema, |ctx| ctx.validate_document(doc))
}

/// Validates one element of a document, where it is, against one of the
/// embedded schemas: an S.4 request inside its SOAP envelope, without
/// taking it out and parsing it again (libxml2's
/// `xmlSchemaValidateOneElement`; the namespaces in scope are the
/// element's own in the tree).
pub fn validate_element(element: &Node, schema: Schema) -> Result<(), SchemaErrors> {
    with_schema(schema, |ctx| ctx.validate_node(element))
}

fn with_schema(
    schema: Schema,
    run: impl FnOnce(&mut SchemaValidationContext) -> Result<(), Vec<libxml::error::StructuredError>>,
) -> Result<(), SchemaErrors> {
    init_libxml2();
    COMPILED.with(|cell| {
        let mut compiled = cell.borrow_mut();
        let i = match compiled.iter().position(|(s, _)| *s == schema) {
            Some(i) => i,
            None => {
                let mut parser = SchemaParserContext::from_file(schema.uri());
                let ctx = SchemaValidationContext::from_parser(&mut parser).map_err(|errs| {
                    SchemaErrors {
                        schema: schema.name(),
                        findings: std::iter::once("the embedded schema does not load".to_string())
                            .chain(errs.iter().map(|e| format!("{:?}", e.message)))
                            .collect(),
                    }
                })?;
                compiled.push((schema, ctx));
                compiled.len() - 1
            }
        };
        let errs = match run(&mut compiled[i].1) {
            Ok(()) => return Ok(()),
            Err(errs) => errs,
        };
        let errs: Vec<_> = errs
            .into_iter()
            .filter(|e| !long_integer_refused(e.message.as_deref().unwrap_or("")))
            .collect();
        if errs.is_empty() {
            return Ok(());
        }
        Err(SchemaErrors {
            schema: schema.name(),
            findings: errs
                .iter()
                .map(|e| match (&e.line, &e.message) {
                    (Some(l), Some(m)) => format!("line {l}: {}", m.trim()),
                    (_, Some(m)) => m.trim().to_string(),
                    _ => "an error without a message".to_string(),
                })
                .collect(),
        })
    })
}

/// Whether a schema error is libxml2 refusing a valid `xs:integer` for its
/// length: libxml2 (to 2.10 at least) keeps decimals in 24 digits and
/// reports longer integers as invalid, and every 128-bit certificate
/// serial number in a `ds:X509SerialNumber` (XML-DSig, XAdES) is longer.
/// Such an error is dropped when the value is an integer literal
/// (`[+-]?[0-9]+`, XML Schema 1.0 part 2, 3.3.13): the document is valid
/// there, by the schema's own definition.
fn long_integer_refused(message: &str) -> bool {
    const TAIL: &str = "' is not a valid value of the atomic type 'xs:integer'.";
    let Some(head) = message.trim_end().strip_suffix(TAIL) else {
        return false;
    };
    let Some((_, value)) = head.rsplit_once("': '") else {
        return false;
    };
    let digits = value.strip_prefix(['+', '-']).unwrap_or(value);
    digits.len() > 24 && digits.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_integers_are_not_refused_for_their_length() {
        let m = |v: &str| {
            format!("Element '{{http://www.w3.org/2000/09/xmldsig#}}X509SerialNumber': '{v}' is not a valid value of the atomic type 'xs:integer'.\n")
        };
        assert!(long_integer_refused(&m(
            "29703443259652204509275324291419817872"
        )));
        assert!(long_integer_refused(&m(
            "-29703443259652204509275324291419817872"
        )));
        // short ones libxml2 reads; a refusal then is real, as is one of text
        assert!(!long_integer_refused(&m("123")));
        assert!(!long_integer_refused(&m(
            "2970344325965220450927532429141981787x"
        )));
        assert!(!long_integer_refused(
            "Element 'a': This element is not expected."
        ));
    }

    #[test]
    fn every_import_of_the_schemas_is_embedded() {
        init_libxml2();
        for s in [Schema::Xaip, Schema::S4] {
            let mut parser = SchemaParserContext::from_file(s.uri());
            assert!(
                SchemaValidationContext::from_parser(&mut parser).is_ok(),
                "{s:?}"
            );
        }
    }

    /// CI once hung here: libxml2's catalog mutex, created lazily by the
    /// first threads to load an import. Threads that compile at once, each
    /// its own context, must all finish.
    #[test]
    fn threads_compile_the_schemas_at_the_same_time() {
        let start = std::sync::Arc::new(std::sync::Barrier::new(4));
        let threads: Vec<_> = (0..4)
            .map(|i| {
                let start = start.clone();
                std::thread::spawn(move || {
                    let doc = crate::xml::parse(
                        br#"<xaip:XAIP xmlns:xaip="http://www.bsi.bund.de/tr-esor/xaip" XAIPVersion="1.3.0"/>"#,
                    )
                    .unwrap();
                    start.wait();
                    let schema = if i % 2 == 0 { Schema::Xaip } else { Schema::S4 };
                    // invalid either way (no package header; not an S.4
                    // element): what matters is that it answers
                    validate_against(&doc, schema).unwrap_err()
                })
            })
            .collect();
        for t in threads {
            assert!(!t.join().unwrap().findings.is_empty());
        }
    }

    #[test]
    fn a_package_that_breaks_the_schema_is_named() {
        let doc = crate::xml::parse(
            br#"<xaip:XAIP xmlns:xaip="http://www.bsi.bund.de/tr-esor/xaip" XAIPVersion="1.3.0"><xaip:nonsense/></xaip:XAIP>"#,
        )
        .unwrap();
        let e = validate(&doc).unwrap_err();
        assert!(e.to_string().contains("nonsense"), "{e}");
    }
}
