//! Algorithm identifiers of XML-DSig 1.1, RFC 6931 and XAdES, resolved to
//! what the core verifies with.

use bewahr_core::alg::DigestAlgorithm;
use bewahr_core::tsp::sig::Scheme;

pub const DS: &str = "http://www.w3.org/2000/09/xmldsig#";
pub const XADES: &str = "http://uri.etsi.org/01903/v1.3.2#";
pub const XADES141: &str = "http://uri.etsi.org/01903/v1.4.1#";
pub const FILTER2: &str = "http://www.w3.org/2002/06/xmldsig-filter2";
pub const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";

/// `ds:Reference/@Type` of the reference to the XAdES SignedProperties.
pub const SIGNED_PROPERTIES_TYPE: &str = "http://uri.etsi.org/01903#SignedProperties";

pub const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
pub const BASE64: &str = "http://www.w3.org/2000/09/xmldsig#base64";
pub const XPATH: &str = "http://www.w3.org/TR/1999/REC-xpath-19991116";

/// A `DigestMethod` URI (XML-DSig 1.1 section 6.2, RFC 6931 2.1).
pub fn digest(uri: &str) -> Option<DigestAlgorithm> {
    bewahr_core::signature::xml_digest_algorithm(uri.trim())
}

/// A `SignatureMethod` URI (XML-DSig 1.1 section 6.4, RFC 6931 2.2, 2.3).
/// ECDSA values are r||s, not DER (RFC 4050): `ecdsa` says so.
pub fn signature(uri: &str) -> Option<(Scheme, bool)> {
    use DigestAlgorithm as D;
    let pss = |hash: D| Scheme::RsaPss {
        hash,
        salt: hash.output_len(),
    };
    Some(match uri.trim() {
        "http://www.w3.org/2000/09/xmldsig#rsa-sha1" => (Scheme::RsaPkcs1(D::Sha1), false),
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha224" => (Scheme::RsaPkcs1(D::Sha224), false),
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256" => (Scheme::RsaPkcs1(D::Sha256), false),
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384" => (Scheme::RsaPkcs1(D::Sha384), false),
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512" => (Scheme::RsaPkcs1(D::Sha512), false),
        "http://www.w3.org/2007/05/xmldsig-more#sha256-rsa-MGF1" => (pss(D::Sha256), false),
        "http://www.w3.org/2007/05/xmldsig-more#sha384-rsa-MGF1" => (pss(D::Sha384), false),
        "http://www.w3.org/2007/05/xmldsig-more#sha512-rsa-MGF1" => (pss(D::Sha512), false),
        "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha1" => (Scheme::Ecdsa(D::Sha1), true),
        "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha224" => (Scheme::Ecdsa(D::Sha224), true),
        "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256" => (Scheme::Ecdsa(D::Sha256), true),
        "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384" => (Scheme::Ecdsa(D::Sha384), true),
        "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512" => (Scheme::Ecdsa(D::Sha512), true),
        _ => return None,
    })
}

/// Base64 content of an element (whitespace and line breaks, which
/// XML-DSig producers insert every 76 characters, removed).
pub fn base64(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    use base64::Engine;
    let clean: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD.decode(clean)
}
