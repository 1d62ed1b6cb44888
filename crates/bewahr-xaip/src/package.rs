//! An XAIP (TR-ESOR-F 1.3, section 3) as read for evidence: its versions,
//! the objects each version protects, and the evidence records it carries.
//!
//! ```text
//! XAIP@XAIPVersion
//!  packageHeader@packageID: AOID? packageInfo? versionManifest+ ds:CanonicalizationMethod?
//!    versionManifest@VersionID: ... packageInfoUnit+{protectedObjectPointer+ unprotectedObjectPointer* packageInfoUnit*}
//!  metaDataSection?:    metaDataObject+@metaDataID   {binaryMetaData | xmlMetaData}
//!  dataObjectsSection?: dataObject+@dataObjectID     {binaryData | xmlData}
//!  credentialsSection?: credential+@credentialID     {dss:SignatureObject | certificateValues
//!                                                     | revocationValues | evidenceRecord | other}
//! ```

use std::collections::HashMap;
use std::path::PathBuf;

use base64::Engine;
use libxml::tree::{Document, Node};

use crate::xml::{self, C14n, XmlError};

/// `http://www.bsi.bund.de/tr-esor/xaip`
pub const XAIP_NS: &str = "http://www.bsi.bund.de/tr-esor/xaip";
const DS_NS: &str = "http://www.w3.org/2000/09/xmldsig#";
const DSS_NS: &str = "urn:oasis:names:tc:dss:1.0:core:schema";
const XADES_NS: &str = "http://uri.etsi.org/01903/v1.3.2#";
const ASIC_NS: &str = "http://uri.etsi.org/02918/v1.2.1#";

/// What is wrong with a package, said so that its author can fix it.
#[derive(Debug, thiserror::Error)]
pub enum XaipError {
    #[error(transparent)]
    Xml(#[from] XmlError),
    #[error("the root element is {0}, not xaip:XAIP or xaip:DXAIP")]
    NotXaip(String),
    #[error("the package has no packageHeader")]
    NoHeader,
    #[error("the ID {0:?} is used twice")]
    DuplicateId(String),
    /// The package is well-formed but not valid against the XAIP schema
    /// ([`Xaip::parse_valid`]).
    #[error(transparent)]
    Invalid(#[from] crate::schema::SchemaErrors),
    #[error("the package has no version {wanted:?} (it has {have})")]
    UnknownVersion { wanted: String, have: String },
    #[error("version {version}: the protected object {id:?} does not exist in the package")]
    DanglingPointer { version: String, id: String },
    #[error("{id}: {what}")]
    Object { id: String, what: String },
    #[error("the canonicalisation method {0:?} of the package header is not one of C14N 1.0, 1.1 or exclusive C14N")]
    UnknownC14n(String),
    #[error("{id}: the referenced file {uri:?}: {what}")]
    Reference {
        id: String,
        uri: String,
        what: String,
    },
}

/// What kind of object a protected object is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ObjectKind {
    DataObject,
    MetaDataObject,
    Credential,
    VersionManifest,
    EncapsulatedPkiData,
}

/// One protected object of a version and the bytes TR-ESOR-ERS hashes for it.
#[derive(Clone, Debug)]
pub struct ProtectedObject {
    pub id: String,
    pub kind: ObjectKind,
    pub bytes: Vec<u8>,
}

/// An evidence record carried in the credentials section.
#[derive(Clone, Debug)]
pub struct EmbeddedRecord {
    pub credential_id: String,
    /// The record, DER (from `asn1EvidenceRecord`).
    pub der: Vec<u8>,
}

/// What a package refers to outside itself.
#[derive(Clone, Debug, Default)]
pub struct References {
    /// The files an LXAIP refers to (`asic:DataObjectReference@URI`), by
    /// URI, as the archive holds them (uploaded before the package).
    /// Looked up first.
    pub files: HashMap<String, Vec<u8>>,
    /// Where the files an LXAIP refers to are read from otherwise: a
    /// relative URI names a file below this directory.
    pub dir: Option<PathBuf>,
    /// The objects of earlier versions that a DXAIP's placeholders
    /// (`updateSection/placeHolder@objectID`) stand for, by ID, with the
    /// bytes TR-ESOR-ERS hashes for each ([`crate::History::earlier`]).
    pub earlier: HashMap<String, (ObjectKind, Vec<u8>)>,
}

/// A parsed XAIP or DXAIP.
pub struct Xaip {
    pub(crate) doc: Document,
    header: Node,
    ids: HashMap<String, Node>,
}

/// The attributes that carry an object's ID in an XAIP (all `xs:ID`).
const ID_ATTRIBUTES: &[&str] = &[
    "packageID",
    "VersionID",
    "packageUnitID",
    "metaDataID",
    "dataObjectID",
    "credentialID",
    // a DXAIP's placeHolder
    "objectID",
    "Id",
];

impl Xaip {
    /// Reads a package: XML per [`xml::parse`], root `xaip:XAIP` or
    /// `xaip:DXAIP`, IDs unique.
    pub fn parse(bytes: &[u8]) -> Result<Xaip, XaipError> {
        Self::from_document(xml::parse(bytes)?)
    }

    /// Reads a package that must be valid against `tr-esor-xaip-v1.3.xsd`:
    /// the schema is checked first, so an invalid package is refused with
    /// all the schema's findings ([`XaipError::Invalid`]), also where
    /// [`Xaip::parse`] would name only the first thing it trips over (an
    /// ID used twice is both: `xs:ID` is unique by the schema).
    pub fn parse_valid(bytes: &[u8]) -> Result<Xaip, XaipError> {
        let doc = xml::parse(bytes)?;
        crate::schema::validate(&doc)?;
        Self::from_document(doc)
    }

    fn from_document(doc: Document) -> Result<Xaip, XaipError> {
        let root = doc.get_root_element().expect("parse checks the root");
        if !(xml::is(&root, XAIP_NS, "XAIP") || xml::is(&root, XAIP_NS, "DXAIP")) {
            let (local, ns) = xml::name(&root);
            return Err(XaipError::NotXaip(match ns {
                Some(ns) => format!("{{{ns}}}{local}"),
                None => local,
            }));
        }
        let header = xml::child(&root, XAIP_NS, "packageHeader").ok_or(XaipError::NoHeader)?;
        let mut ids = HashMap::new();
        index(&root, &mut ids)?;
        Ok(Xaip { doc, header, ids })
    }

    /// Validates the package against `tr-esor-xaip-v1.3.xsd` (TR-ESOR-F:
    /// a package that is not valid is `XAIP_NOK`).
    pub fn validate(&self) -> Result<(), crate::schema::SchemaErrors> {
        crate::schema::validate(&self.doc)
    }

    /// `packageHeader/AOID`, when the package has one.
    pub fn aoid(&self) -> Option<String> {
        xml::child(&self.header, XAIP_NS, "AOID").map(|n| n.get_content().trim().to_string())
    }

    /// `packageHeader@packageID`.
    pub fn package_id(&self) -> Option<String> {
        self.header.get_attribute("packageID")
    }

    /// The version IDs, in the order of the manifests.
    pub fn versions(&self) -> Vec<String> {
        xml::children(&self.header, XAIP_NS, "versionManifest")
            .filter_map(|m| m.get_attribute("VersionID"))
            .collect()
    }

    /// The canonicalisation the package header names (TR-ESOR-F's default,
    /// inclusive C14N 1.0, when it names none).
    pub fn canonicalization(&self) -> Result<C14n, XaipError> {
        match xml::child(&self.header, DS_NS, "CanonicalizationMethod") {
            None => Ok(C14n::TR_ESOR_DEFAULT),
            Some(m) => {
                let uri = m.get_attribute("Algorithm").unwrap_or_default();
                C14n::from_uri(&uri).ok_or(XaipError::UnknownC14n(uri))
            }
        }
    }

    pub(crate) fn root(&self) -> Node {
        self.doc.get_root_element().expect("parse checks the root")
    }

    pub(crate) fn header(&self) -> &Node {
        &self.header
    }

    /// The element that carries `id`.
    pub(crate) fn node(&self, id: &str) -> Option<Node> {
        self.ids.get(id).cloned()
    }

    /// The bytes TR-ESOR-ERS hashes for the object `id`.
    pub(crate) fn bytes_of(&self, id: &str, refs: &References) -> Result<Vec<u8>, XaipError> {
        Ok(self.object_of(id, refs)?.1)
    }

    /// The kind of the object `id` and the bytes TR-ESOR-ERS hashes for it.
    pub(crate) fn object_of(
        &self,
        id: &str,
        refs: &References,
    ) -> Result<(ObjectKind, Vec<u8>), XaipError> {
        let node = self.ids.get(id).ok_or_else(|| XaipError::Object {
            id: id.to_string(),
            what: "no object has this ID".into(),
        })?;
        self.object_bytes(id, node, self.canonicalization()?, refs)
    }

    pub(crate) fn doc(&self) -> &Document {
        &self.doc
    }

    fn manifest(&self, version: &str) -> Result<Node, XaipError> {
        xml::children(&self.header, XAIP_NS, "versionManifest")
            .find(|m| m.get_attribute("VersionID").as_deref() == Some(version))
            .ok_or_else(|| XaipError::UnknownVersion {
                wanted: version.to_string(),
                have: self.versions().join(", "),
            })
    }

    /// The IDs a version protects: every `protectedObjectPointer` of its
    /// package information units, nested ones included, each once, in
    /// document order.
    pub fn protected_ids(&self, version: &str) -> Result<Vec<String>, XaipError> {
        let manifest = self.manifest(version)?;
        let mut out = Vec::new();
        fn walk(unit: &Node, out: &mut Vec<String>) {
            for c in unit.get_child_elements() {
                if xml::is(&c, XAIP_NS, "protectedObjectPointer") {
                    let id = c.get_content().trim().to_string();
                    if !out.contains(&id) {
                        out.push(id);
                    }
                } else if xml::is(&c, XAIP_NS, "packageInfoUnit") {
                    walk(&c, out);
                }
            }
        }
        for unit in xml::children(&manifest, XAIP_NS, "packageInfoUnit") {
            walk(&unit, &mut out);
        }
        Ok(out)
    }

    /// The protected objects of `version` with the bytes that are hashed
    /// for each, as TR-ESOR-ERS and BSI's ERVerifyTool take them:
    /// - binary data and binary metadata: the base64-decoded bytes;
    /// - a data object's XML data: its one child element, canonicalised;
    /// - XML metadata: the whole `metaDataObject` element, canonicalised;
    /// - credentials: a time-stamp token, a `Base64Signature`, a single
    ///   encapsulated certificate, CRL or OCSP response, or an ASN.1
    ///   evidence record as their DER bytes; any other credential (an XML
    ///   signature, say) as the whole element, canonicalised;
    /// - a version manifest: the element, canonicalised;
    /// - LXAIP references: the bytes of the referenced file, whose digest
    ///   must match the reference's.
    ///
    /// The canonicalisation is the package header's.
    pub fn protected_objects(
        &self,
        version: &str,
        refs: &References,
    ) -> Result<Vec<ProtectedObject>, XaipError> {
        let c14n = self.canonicalization()?;
        let mut out = Vec::new();
        for id in self.protected_ids(version)? {
            let node = self
                .ids
                .get(&id)
                .ok_or_else(|| XaipError::DanglingPointer {
                    version: version.to_string(),
                    id: id.clone(),
                })?;
            let (kind, bytes) = self.object_bytes(&id, node, c14n, refs)?;
            out.push(ProtectedObject { id, kind, bytes });
        }
        Ok(out)
    }

    fn object_bytes(
        &self,
        id: &str,
        node: &Node,
        c14n: C14n,
        refs: &References,
    ) -> Result<(ObjectKind, Vec<u8>), XaipError> {
        let err = |what: String| XaipError::Object {
            id: id.to_string(),
            what,
        };
        let canon = |n: &Node| xml::canonicalize(&self.doc, n, c14n).map_err(XaipError::from);
        if xml::is(node, XAIP_NS, "placeHolder") {
            return refs.earlier.get(id).cloned().ok_or_else(|| {
                err("a placeholder for an object that no earlier version of the archive object holds".into())
            });
        }
        if xml::is(node, XAIP_NS, "dataObject") {
            let bytes = if let Some(b) = xml::child(node, XAIP_NS, "binaryData") {
                decode(&b).map_err(err)?
            } else if let Some(x) = xml::child(node, XAIP_NS, "xmlData") {
                let el = only_element(&x).map_err(err)?;
                if xml::is(&el, ASIC_NS, "DataObjectReference") {
                    resolve(id, &el, refs)?
                } else {
                    canon(&el)?
                }
            } else {
                return Err(err("a data object without binaryData or xmlData".into()));
            };
            return Ok((ObjectKind::DataObject, bytes));
        }
        if xml::is(node, XAIP_NS, "metaDataObject") {
            let bytes = if let Some(b) = xml::child(node, XAIP_NS, "binaryMetaData") {
                decode(&b).map_err(err)?
            } else if let Some(r) = xml::child(node, XAIP_NS, "xmlMetaData")
                .and_then(|x| xml::child(&x, ASIC_NS, "DataObjectReference"))
            {
                resolve(id, &r, refs)?
            } else {
                canon(node)?
            };
            return Ok((ObjectKind::MetaDataObject, bytes));
        }
        if xml::is(node, XAIP_NS, "credential") {
            return Ok((
                ObjectKind::Credential,
                self.credential_bytes(id, node, c14n, refs)?,
            ));
        }
        if xml::is(node, XAIP_NS, "versionManifest") {
            return Ok((ObjectKind::VersionManifest, canon(node)?));
        }
        if node
            .get_namespace()
            .is_some_and(|n| n.get_href() == XADES_NS)
            && node.get_name().starts_with("Encapsulated")
        {
            return Ok((ObjectKind::EncapsulatedPkiData, decode(node).map_err(err)?));
        }
        let (local, _) = xml::name(node);
        Err(err(format!(
            "a protectedObjectPointer may name a data object, metadata object, credential, version manifest or encapsulated PKI data, not a {local}"
        )))
    }

    fn credential_bytes(
        &self,
        id: &str,
        cred: &Node,
        c14n: C14n,
        refs: &References,
    ) -> Result<Vec<u8>, XaipError> {
        let err = |what: String| XaipError::Object {
            id: id.to_string(),
            what,
        };
        if let Some(r) = xml::child(cred, XAIP_NS, "other")
            .and_then(|o| xml::child(&o, ASIC_NS, "DataObjectReference"))
        {
            return resolve(id, &r, refs);
        }
        if let Some(so) = xml::child(cred, DSS_NS, "SignatureObject") {
            if let Some(t) = xml::child(&so, DSS_NS, "Timestamp")
                .and_then(|t| xml::child(&t, DSS_NS, "RFC3161TimeStampToken"))
            {
                return decode(&t).map_err(err);
            }
            if let Some(s) = xml::child(&so, DSS_NS, "Base64Signature") {
                return decode(&s).map_err(err);
            }
        }
        if let Some(cv) = xml::child(cred, XAIP_NS, "certificateValues") {
            let all = cv.get_child_elements();
            let encapsulated: Vec<&Node> = all
                .iter()
                .filter(|c| xml::is(c, XADES_NS, "EncapsulatedX509Certificate"))
                .collect();
            match (encapsulated.len(), all.len()) {
                (1, 1) => return decode(encapsulated[0]).map_err(err),
                (0, _) => {}
                (n, m) if n == m => {
                    return Err(err(format!(
                        "{n} certificates in one credential: its hash is not defined (one each)"
                    )))
                }
                _ => {
                    return Err(err(
                        "encapsulated and other certificate values mixed in one credential: its hash is not defined".into(),
                    ))
                }
            }
        }
        if let Some(rv) = xml::child(cred, XAIP_NS, "revocationValues") {
            for (list, value) in [
                ("CRLValues", "EncapsulatedCRLValue"),
                ("OCSPValues", "EncapsulatedOCSPValue"),
            ] {
                if let Some(l) = xml::child(&rv, XADES_NS, list) {
                    let values: Vec<Node> = xml::children(&l, XADES_NS, value).collect();
                    if values.len() != 1 {
                        return Err(err(format!(
                            "{} {value}s in one credential: its hash is not defined (one each)",
                            values.len()
                        )));
                    }
                    return decode(&values[0]).map_err(err);
                }
            }
        }
        if let Some(a) = xml::child(cred, XAIP_NS, "evidenceRecord")
            .and_then(|e| xml::child(&e, XAIP_NS, "asn1EvidenceRecord"))
        {
            return decode(&a).map_err(err);
        }
        Ok(xml::canonicalize(&self.doc, cred, c14n)?)
    }

    /// The DER evidence records the package carries for `version`: those of
    /// credentials related to the version (`credential@relatedObjects`) or
    /// naming it (`evidenceRecord@VersionID`).
    pub fn embedded_records(&self, version: &str) -> Result<Vec<EmbeddedRecord>, XaipError> {
        let root = self.doc.get_root_element().expect("checked in parse");
        let mut out = Vec::new();
        let Some(section) = xml::child(&root, XAIP_NS, "credentialsSection") else {
            return Ok(out);
        };
        for cred in xml::children(&section, XAIP_NS, "credential") {
            let Some(er) = xml::child(&cred, XAIP_NS, "evidenceRecord") else {
                continue;
            };
            let related = cred.get_attribute("relatedObjects").unwrap_or_default();
            let names_version = er.get_attribute("VersionID").as_deref() == Some(version);
            if !(names_version || related.split_whitespace().any(|r| r == version)) {
                continue;
            }
            let id = cred.get_attribute("credentialID").unwrap_or_default();
            if let Some(a) = xml::child(&er, XAIP_NS, "asn1EvidenceRecord") {
                let der = decode(&a).map_err(|what| XaipError::Object {
                    id: id.clone(),
                    what,
                })?;
                out.push(EmbeddedRecord {
                    credential_id: id,
                    der,
                });
            }
        }
        Ok(out)
    }
}

/// Indexes every element that carries an ID attribute.
fn index(node: &Node, ids: &mut HashMap<String, Node>) -> Result<(), XaipError> {
    for attr in ID_ATTRIBUTES {
        // `VersionID` is an ID on a version manifest only; on an
        // `evidenceRecord` (and a DXAIP's `placeHolder`) it names one
        if *attr == "VersionID" && !xml::is(node, XAIP_NS, "versionManifest") {
            continue;
        }
        if let Some(id) = node.get_attribute_no_ns(attr) {
            if ids.insert(id.clone(), node.clone()).is_some() {
                return Err(XaipError::DuplicateId(id));
            }
            break;
        }
    }
    for c in node.get_child_elements() {
        index(&c, ids)?;
    }
    Ok(())
}

/// The one element child of `node` (text around it may only be white space).
fn only_element(node: &Node) -> Result<Node, String> {
    let mut els = node.get_child_elements().into_iter();
    match (els.next(), els.next()) {
        (Some(e), None) => Ok(e),
        (None, _) => Err("xmlData holds no element".into()),
        _ => Err("xmlData holds more than one element: its hash is not defined".into()),
    }
}

/// Base64 content (line breaks and other white space allowed).
fn decode(node: &Node) -> Result<Vec<u8>, String> {
    base64_content(&node.get_content())
        .map_err(|e| format!("{}: not base64 ({e})", node.get_name()))
}

/// The bytes of an `xs:base64Binary` text, which may hold white space.
pub fn base64_content(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    let text: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD.decode(text)
}

/// The digest algorithms `ds:DigestMethod` may name for an LXAIP
/// reference (the XML Signature URIs of RFC 6931; C.2's DLXAIPs use
/// SHA-512 and SHA3-512). SHA-1 is not taken: the digest protects the
/// transfer, and SHA-1 no longer does.
pub fn digest_of(uri: &str, data: &[u8]) -> Option<Vec<u8>> {
    use sha2::Digest;
    Some(match uri {
        "http://www.w3.org/2001/04/xmldsig-more#sha224" => sha2::Sha224::digest(data).to_vec(),
        "http://www.w3.org/2001/04/xmlenc#sha256" => sha2::Sha256::digest(data).to_vec(),
        "http://www.w3.org/2001/04/xmldsig-more#sha384" => sha2::Sha384::digest(data).to_vec(),
        "http://www.w3.org/2001/04/xmlenc#sha512" => sha2::Sha512::digest(data).to_vec(),
        "http://www.w3.org/2007/05/xmldsig-more#sha3-256" => sha3::Sha3_256::digest(data).to_vec(),
        "http://www.w3.org/2007/05/xmldsig-more#sha3-384" => sha3::Sha3_384::digest(data).to_vec(),
        "http://www.w3.org/2007/05/xmldsig-more#sha3-512" => sha3::Sha3_512::digest(data).to_vec(),
        _ => return None,
    })
}

/// The bytes of the file an `asic:DataObjectReference` names, checked
/// against its digest.
fn resolve(id: &str, reference: &Node, refs: &References) -> Result<Vec<u8>, XaipError> {
    let uri = reference.get_attribute("URI").unwrap_or_default();
    let fail = |what: String| XaipError::Reference {
        id: id.to_string(),
        uri: uri.clone(),
        what,
    };
    let data = match (refs.files.get(&uri), &refs.dir) {
        (Some(d), _) => d.clone(),
        (None, None) => {
            return Err(fail(
                "an LXAIP reference to a file that was not uploaded (or, read offline: give the directory of the referenced files)".into(),
            ))
        }
        (None, Some(dir)) => {
            let rel = std::path::Path::new(&uri);
            if uri.is_empty()
                || uri.contains(':')
                || rel
                    .components()
                    .any(|c| !matches!(c, std::path::Component::Normal(_)))
            {
                return Err(fail(
                    "only relative file names below the reference directory are resolved".into(),
                ));
            }
            std::fs::read(dir.join(rel)).map_err(|e| fail(e.to_string()))?
        }
    };
    let method = xml::child(reference, DS_NS, "DigestMethod")
        .and_then(|m| m.get_attribute("Algorithm"))
        .unwrap_or_default();
    let want = xml::child(reference, DS_NS, "DigestValue")
        .ok_or_else(|| fail("the reference has no DigestValue".into()))
        .and_then(|v| decode(&v).map_err(fail))?;
    let have = digest_of(&method, &data)
        .ok_or_else(|| fail(format!("digest method {method:?} is not supported")))?;
    if have != want {
        return Err(fail(
            "the file does not match the reference's digest (hashValueMismatch)".into(),
        ));
    }
    Ok(data)
}
