//! ASiC containers (Associated Signature Containers, ETSI EN 319 162-1).
//!
//! [`open`] reads an ASiC-S or ASiC-E ZIP container into memory: its data
//! objects, the signatures, time-stamps and evidence records in `META-INF/`,
//! and the parsed `ASiCManifest` files. Nothing is verified here; the caller
//! checks signatures, time-stamps and evidence records and compares the
//! manifests' digests with the data objects.
//!
//! Hostile containers are refused: at most 10,000 entries, each entry at most
//! 256 MiB and all entries together at most 1 GiB once decompressed (counted
//! while reading, declared sizes are not trusted), no entry names that could
//! escape a folder (`..`, absolute paths, backslashes, drive letters, NUL), no
//! duplicate names, and manifests are parsed without DTDs (so no entity
//! expansion or external entities).
//!
//! Choices made where the format leaves room:
//!
//! * A `mimetype` entry with any value other than the ASiC-S or ASiC-E media
//!   type is an error ([`AsicError::UnknownMimetype`]). Its position and
//!   compression are not checked.
//! * Without a `mimetype` entry, the container is ASiC-S if it has exactly one
//!   data object, at the root, and one of `META-INF/signature.p7s`,
//!   `META-INF/signatures.xml`, `META-INF/timestamp.tst` or
//!   `META-INF/evidencerecord.ers`; otherwise ASiC-E.
//! * `META-INF/` entries are sorted by their name directly under `META-INF/`
//!   (case-sensitive); entries in sub-folders of `META-INF/` and unknown files
//!   (such as the ODF `manifest.xml`) are listed in
//!   [`Container::other_meta_inf`].
//! * Manifest elements are matched by local name only (any prefix, any
//!   namespace). URIs are kept as written (not percent-decoded).
//! * A `DigestValue` is base64 with whitespace removed; characters that are not
//!   base64 after the `=` padding are ignored, as the decoders of common
//!   validators do (the C.2 file `ASIC_E_ER_OK.asice` has `...=.`).

use std::collections::HashSet;
use std::io::{Cursor, Read};

use base64::Engine as _;

/// ASiC media type of an ASiC-S container.
pub const MIMETYPE_S: &str = "application/vnd.etsi.asic-s+zip";
/// ASiC media type of an ASiC-E container.
pub const MIMETYPE_E: &str = "application/vnd.etsi.asic-e+zip";

/// The ASiC namespace of `ASiCManifest` (matched by local name only).
pub const ASIC_NS: &str = "http://uri.etsi.org/02918/v1.2.1#";
/// The XML-DSig namespace of `DigestMethod`/`DigestValue` (matched by local name only).
pub const DS_NS: &str = "http://www.w3.org/2000/09/xmldsig#";

/// Which kind of ASiC container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AsicKind {
    /// ASiC-S: one data object with its signature, time-stamp or evidence record.
    Simple,
    /// ASiC-E: several data objects, bound by manifests.
    Extended,
}

/// An ASiC container read into memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Container {
    /// ASiC-S or ASiC-E, from the `mimetype` entry (or guessed without one).
    pub kind: AsicKind,
    /// The content of the `mimetype` entry, if there is one.
    pub mimetype: Option<String>,
    /// Data objects: every entry outside `META-INF/` (not directories, not
    /// `mimetype`), name and bytes, in ZIP order.
    pub data_objects: Vec<(String, Vec<u8>)>,
    /// CAdES signatures: `META-INF/*signature*.p7s`, name and bytes.
    pub cades_signatures: Vec<(String, Vec<u8>)>,
    /// XAdES signatures: `META-INF/*signature*.xml`, name and bytes.
    pub xades_signatures: Vec<(String, Vec<u8>)>,
    /// RFC 3161 time-stamp tokens: `META-INF/*timestamp*.tst`, name and bytes.
    pub timestamps: Vec<(String, Vec<u8>)>,
    /// RFC 4998 evidence records: `META-INF/*evidencerecord*.ers`, name and bytes.
    pub evidence_records: Vec<(String, Vec<u8>)>,
    /// `META-INF/ASiCManifest*.xml` and `META-INF/ASiCEvidenceRecordManifest*.xml`, parsed.
    pub manifests: Vec<Manifest>,
    /// Other entries in `META-INF/` (e.g. `META-INF/manifest.xml`), names only.
    pub other_meta_inf: Vec<String>,
}

/// One `ASiCManifest` (or `ASiCEvidenceRecordManifest`) file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// Entry name, e.g. `META-INF/ASiCManifest.xml`.
    pub name: String,
    /// Exact bytes (a CAdES signature or time-stamp in ASiC-E signs these bytes).
    pub bytes: Vec<u8>,
    /// `SigReference/@URI`: the signature, time-stamp or ER file this manifest belongs to.
    pub sig_reference: Option<String>,
    /// The `DataObjectReference` elements, in document order.
    pub references: Vec<DataObjectReference>,
}

/// One `DataObjectReference` of a [`Manifest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataObjectReference {
    /// `@URI` as written: the referenced data object's entry name.
    pub uri: String,
    /// `@MimeType`, if given.
    pub mime_type: Option<String>,
    /// `ds:DigestMethod/@Algorithm`: the digest algorithm URI.
    pub digest_method: String,
    /// `ds:DigestValue`, base64-decoded.
    pub digest_value: Vec<u8>,
}

/// Why a container could not be read. Entry names are given as found.
#[derive(Debug, thiserror::Error)]
pub enum AsicError {
    /// The bytes do not start with a ZIP local file header (`PK\x03\x04`).
    #[error("not a ZIP file (no PK\\x03\\x04 at the start)")]
    NotZip,
    /// The ZIP structure (central directory) could not be read.
    #[error("unreadable ZIP archive: {source}")]
    Zip {
        #[source]
        source: zip::result::ZipError,
    },
    /// More entries than allowed.
    #[error("the container has {count} entries, more than the {limit} allowed")]
    TooManyEntries { count: usize, limit: usize },
    /// Two entries have the same name.
    #[error("duplicate entry name {name:?}")]
    DuplicateName { name: String },
    /// An entry name that could escape a folder when extracted.
    #[error("entry {index} has an unsafe name {name:?}: {reason}")]
    UnsafeName {
        index: usize,
        name: String,
        reason: &'static str,
    },
    /// An entry could not be opened (e.g. encrypted, unsupported compression).
    #[error("entry {index} ({name:?}) cannot be opened: {source}")]
    Entry {
        index: usize,
        name: String,
        #[source]
        source: zip::result::ZipError,
    },
    /// An entry could not be read (corrupt data, CRC mismatch).
    #[error("entry {name:?} cannot be read: {source}")]
    Read {
        name: String,
        #[source]
        source: std::io::Error,
    },
    /// An entry decompresses to more than the per-entry limit.
    #[error("entry {name:?} decompresses to more than {limit} bytes")]
    EntryTooLarge { name: String, limit: u64 },
    /// All entries together decompress to more than the total limit.
    #[error("the entries decompress to more than {limit} bytes in total (exceeded at {name:?})")]
    TotalTooLarge { name: String, limit: u64 },
    /// The `mimetype` entry is neither the ASiC-S nor the ASiC-E media type.
    #[error("mimetype {value:?} is not {MIMETYPE_S} or {MIMETYPE_E}")]
    UnknownMimetype { value: String },
    /// A manifest is not UTF-8.
    #[error("manifest {name:?} is not UTF-8")]
    ManifestNotUtf8 { name: String },
    /// A manifest is not well-formed XML (or has a DTD).
    #[error("manifest {name:?} is not well-formed XML: {source}")]
    Xml {
        name: String,
        #[source]
        source: roxmltree::Error,
    },
    /// A manifest's structure is wrong (root element, missing attribute or element).
    #[error("manifest {name:?}: {detail}")]
    Manifest { name: String, detail: &'static str },
    /// A `DigestValue` is not base64.
    #[error("manifest {name:?}: DigestValue of {uri:?} is not base64: {source}")]
    DigestValue {
        name: String,
        uri: String,
        #[source]
        source: base64::DecodeError,
    },
}

/// Limits against ZIP bombs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    /// Most entries (files and directories) in the container.
    pub max_entries: usize,
    /// Most decompressed bytes of one entry.
    pub max_entry_size: u64,
    /// Most decompressed bytes of all entries together.
    pub max_total_size: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_entries: 10_000,
            max_entry_size: 256 << 20,
            max_total_size: 1 << 30,
        }
    }
}

/// The container entry a relative URI in a signature names: `./` dropped
/// and `%XX` escapes decoded (RFC 3986), as ASiC readers resolve a
/// `ds:Reference` to a data object.
pub fn uri_to_name(uri: &str) -> String {
    let u = uri.strip_prefix("./").unwrap_or(uri);
    let b = u.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match (
            b[i],
            b.get(i + 1).and_then(|c| hex(*c)),
            b.get(i + 2).and_then(|c| hex(*c)),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap_or_else(|_| u.to_string())
}

/// Whether `bytes` starts like a ZIP file (`PK\x03\x04`).
pub fn is_zip(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PK\x03\x04")
}

/// Reads an ASiC container with the default limits (10,000 entries,
/// 256 MiB per entry, 1 GiB in total).
pub fn open(bytes: &[u8]) -> Result<Container, AsicError> {
    open_with_limits(bytes, Limits::default())
}

/// Reads an ASiC container with the given limits.
pub(crate) fn open_with_limits(bytes: &[u8], limits: Limits) -> Result<Container, AsicError> {
    if !is_zip(bytes) {
        return Err(AsicError::NotZip);
    }
    let mut zip =
        zip::ZipArchive::new(Cursor::new(bytes)).map_err(|source| AsicError::Zip { source })?;
    // The ZIP reader keys entries by name, so it merges duplicates of the
    // central directory (it still counts them).
    if zip.has_duplicate_names() {
        let name = first_duplicate(bytes, zip.central_directory_start(), limits.max_entries)
            .unwrap_or_else(|| "?".to_string());
        return Err(AsicError::DuplicateName { name });
    }
    if zip.len() > limits.max_entries {
        return Err(AsicError::TooManyEntries {
            count: zip.len(),
            limit: limits.max_entries,
        });
    }

    let mut c = Container {
        kind: AsicKind::Extended,
        mimetype: None,
        data_objects: Vec::new(),
        cades_signatures: Vec::new(),
        xades_signatures: Vec::new(),
        timestamps: Vec::new(),
        evidence_records: Vec::new(),
        manifests: Vec::new(),
        other_meta_inf: Vec::new(),
    };
    // All names are checked before any entry is decompressed.
    let mut names = Vec::with_capacity(zip.len());
    let mut seen = HashSet::new();
    for index in 0..zip.len() {
        let name = match zip.name_for_index(index) {
            Some(Ok(name)) => name.into_owned(),
            Some(Err(source)) => {
                return Err(AsicError::Entry {
                    index,
                    name: String::new(),
                    source,
                })
            }
            None => {
                return Err(AsicError::Entry {
                    index,
                    name: String::new(),
                    source: zip::result::ZipError::FileNotFound,
                })
            }
        };
        check_name(index, &name)?;
        // two raw names may decode to the same text
        if !seen.insert(name.clone()) {
            return Err(AsicError::DuplicateName { name });
        }
        names.push(name);
    }

    let mut total: u64 = 0;
    for (index, name) in names.into_iter().enumerate() {
        let mut entry = zip.by_index(index).map_err(|source| AsicError::Entry {
            index,
            name: name.clone(),
            source,
        })?;
        if entry.is_dir() {
            continue;
        }
        let allowed = limits
            .max_entry_size
            .min(limits.max_total_size.saturating_sub(total));
        let mut data = Vec::new();
        (&mut entry)
            .take(allowed.saturating_add(1))
            .read_to_end(&mut data)
            .map_err(|source| AsicError::Read {
                name: name.clone(),
                source,
            })?;
        let len = data.len() as u64;
        if len > limits.max_entry_size {
            return Err(AsicError::EntryTooLarge {
                name,
                limit: limits.max_entry_size,
            });
        }
        total += len;
        if total > limits.max_total_size {
            return Err(AsicError::TotalTooLarge {
                name,
                limit: limits.max_total_size,
            });
        }
        drop(entry);
        c.add(name, data)?;
    }
    c.kind = match c.mimetype.as_deref() {
        Some(m) => match m.trim() {
            MIMETYPE_S => AsicKind::Simple,
            MIMETYPE_E => AsicKind::Extended,
            _ => {
                return Err(AsicError::UnknownMimetype {
                    value: m.to_string(),
                })
            }
        },
        None => guess_kind(&c),
    };
    Ok(c)
}

impl Container {
    /// Files one entry by its name.
    fn add(&mut self, name: String, data: Vec<u8>) -> Result<(), AsicError> {
        if name == "mimetype" {
            self.mimetype = Some(String::from_utf8_lossy(&data).into_owned());
            return Ok(());
        }
        let Some(file) = name.strip_prefix("META-INF/") else {
            self.data_objects.push((name, data));
            return Ok(());
        };
        let has = |part: &str, ext: &str| file.contains(part) && file.ends_with(ext);
        if file.contains('/') {
            self.other_meta_inf.push(name);
        } else if (file.starts_with("ASiCManifest")
            || file.starts_with("ASiCEvidenceRecordManifest"))
            && file.ends_with(".xml")
        {
            let manifest = parse_manifest(name, data)?;
            self.manifests.push(manifest);
        } else if has("signature", ".p7s") {
            self.cades_signatures.push((name, data));
        } else if has("signature", ".xml") {
            self.xades_signatures.push((name, data));
        } else if has("timestamp", ".tst") {
            self.timestamps.push((name, data));
        } else if has("evidencerecord", ".ers") {
            self.evidence_records.push((name, data));
        } else {
            self.other_meta_inf.push(name);
        }
        Ok(())
    }
}

/// The kind of a container without a `mimetype` entry.
fn guess_kind(c: &Container) -> AsicKind {
    let one_at_root = c.data_objects.len() == 1 && !c.data_objects[0].0.contains('/');
    let present = |n: &str| {
        c.cades_signatures.iter().any(|(x, _)| x == n)
            || c.xades_signatures.iter().any(|(x, _)| x == n)
            || c.timestamps.iter().any(|(x, _)| x == n)
            || c.evidence_records.iter().any(|(x, _)| x == n)
    };
    let s_file = [
        "META-INF/signature.p7s",
        "META-INF/signatures.xml",
        "META-INF/timestamp.tst",
        "META-INF/evidencerecord.ers",
    ]
    .into_iter()
    .any(present);
    if one_at_root && s_file {
        AsicKind::Simple
    } else {
        AsicKind::Extended
    }
}

/// Refuses entry names that could escape a folder when extracted.
fn check_name(index: usize, name: &str) -> Result<(), AsicError> {
    let bad = |reason| {
        Err(AsicError::UnsafeName {
            index,
            name: name.to_string(),
            reason,
        })
    };
    if name.is_empty() {
        return bad("empty name");
    }
    if name.contains('\0') {
        return bad("NUL byte");
    }
    if name.contains('\\') {
        return bad("backslash");
    }
    if name.starts_with('/') {
        return bad("absolute path");
    }
    let b = name.as_bytes();
    if b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':' {
        return bad("drive letter");
    }
    if name.split('/').any(|part| part == "..") {
        return bad("`..` component");
    }
    Ok(())
}

/// The first name that occurs twice in the central directory starting at
/// `dir_start`, looking at no more than `2 * max_entries + 2` records.
fn first_duplicate(bytes: &[u8], dir_start: u64, max_entries: usize) -> Option<String> {
    let mut pos = usize::try_from(dir_start).ok()?;
    let mut seen = HashSet::new();
    for _ in 0..max_entries.saturating_mul(2).saturating_add(2) {
        let rec = bytes.get(pos..pos.checked_add(46)?)?;
        if rec[..4] != *b"PK\x01\x02" {
            return None;
        }
        let field = |at: usize| usize::from(u16::from_le_bytes([rec[at], rec[at + 1]]));
        let (name_len, extra_len, comment_len) = (field(28), field(30), field(32));
        let name = bytes.get(pos + 46..pos + 46 + name_len)?;
        if !seen.insert(name) {
            return Some(String::from_utf8_lossy(name).into_owned());
        }
        pos += 46 + name_len + extra_len + comment_len;
    }
    None
}

/// Local name of an element.
fn local<'a>(node: roxmltree::Node<'a, '_>) -> &'a str {
    node.tag_name().name()
}

/// Parses an `ASiCManifest` file.
fn parse_manifest(name: String, bytes: Vec<u8>) -> Result<Manifest, AsicError> {
    let err = |detail| AsicError::Manifest {
        name: name.clone(),
        detail,
    };
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| AsicError::ManifestNotUtf8 { name: name.clone() })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let options = roxmltree::ParsingOptions {
        allow_dtd: false,
        nodes_limit: 1_000_000,
        ..roxmltree::ParsingOptions::default()
    };
    let doc = roxmltree::Document::parse_with_options(text, options).map_err(|source| {
        AsicError::Xml {
            name: name.clone(),
            source,
        }
    })?;
    let root = doc.root_element();
    if local(root) != "ASiCManifest" {
        return Err(err("the root element is not ASiCManifest"));
    }
    let mut sig_reference = None;
    let mut references = Vec::new();
    for child in root.children().filter(roxmltree::Node::is_element) {
        match local(child) {
            "SigReference" => {
                if sig_reference.is_some() {
                    return Err(err("more than one SigReference"));
                }
                let uri = child
                    .attribute("URI")
                    .ok_or_else(|| err("SigReference without URI"))?;
                sig_reference = Some(uri.to_string());
            }
            "DataObjectReference" => references.push(parse_reference(&name, child)?),
            _ => {}
        }
    }
    Ok(Manifest {
        name,
        bytes,
        sig_reference,
        references,
    })
}

/// Parses one `DataObjectReference` element of manifest `name`.
fn parse_reference(
    name: &str,
    node: roxmltree::Node<'_, '_>,
) -> Result<DataObjectReference, AsicError> {
    let err = |detail| AsicError::Manifest {
        name: name.to_string(),
        detail,
    };
    let uri = node
        .attribute("URI")
        .ok_or_else(|| err("DataObjectReference without URI"))?
        .to_string();
    let child = |local_name: &str| {
        node.children()
            .find(|n| n.is_element() && local(*n) == local_name)
    };
    let digest_method = child("DigestMethod")
        .ok_or_else(|| err("DataObjectReference without DigestMethod"))?
        .attribute("Algorithm")
        .ok_or_else(|| err("DigestMethod without Algorithm"))?
        .to_string();
    let value_node =
        child("DigestValue").ok_or_else(|| err("DataObjectReference without DigestValue"))?;
    let text: String = value_node
        .descendants()
        .filter(roxmltree::Node::is_text)
        .filter_map(|n| n.text())
        .collect();
    let digest_value = decode_base64(&text).map_err(|source| AsicError::DigestValue {
        name: name.to_string(),
        uri: uri.clone(),
        source,
    })?;
    Ok(DataObjectReference {
        uri,
        mime_type: node.attribute("MimeType").map(str::to_string),
        digest_method,
        digest_value,
    })
}

/// Decodes base64 with whitespace removed, ignoring non-base64 characters
/// after the `=` padding.
fn decode_base64(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let engine = base64::engine::general_purpose::STANDARD;
    match engine.decode(&compact) {
        Ok(v) => Ok(v),
        Err(e) => {
            let is_b64 = |c: char| c.is_ascii_alphanumeric() || c == '+' || c == '/' || c == '=';
            match compact.find('=') {
                Some(pad) => {
                    let end = compact[pad..]
                        .find(|c: char| c != '=')
                        .map_or(compact.len(), |n| pad + n);
                    if compact[end..].chars().any(is_b64) {
                        return Err(e);
                    }
                    engine.decode(&compact[..end])
                }
                None => Err(e),
            }
        }
    }
}

/// One data object for [`with_evidence_record`]: its name in the
/// container, its media type and its bytes.
pub struct DataObject<'a> {
    pub name: &'a str,
    pub media_type: &'a str,
    pub bytes: &'a [u8],
}

/// An ASiC container holding data objects and an RFC 4998 evidence record
/// over them (ETSI EN 319 162-1 4.4.3, 4.4.4): ASiC-S for one data object
/// (`META-INF/evidencerecord.ers` over it), ASiC-E for several (the record
/// beside `META-INF/ASiCEvidenceRecordManifest.xml`, which names each data
/// object with its SHA-256). `mimetype` comes first and is stored
/// uncompressed, as the ASiC and ODF conventions ask; the rest is deflated.
/// Names must be plain relative names (no `META-INF/`, no `..`).
pub fn with_evidence_record(objects: &[DataObject<'_>], er: &[u8]) -> Result<Vec<u8>, String> {
    use std::io::Write;
    use zip::write::SimpleFileOptions;
    if objects.is_empty() {
        return Err("an ASiC container needs a data object".into());
    }
    for o in objects {
        if o.name.is_empty()
            || o.name.starts_with("META-INF/")
            || o.name == "mimetype"
            || o.name
                .split('/')
                .any(|p| p.is_empty() || p == "." || p == "..")
            || o.name.contains(['\\', '\0', '"', '<', '&'])
        {
            return Err(format!("{:?} is not a data object name", o.name));
        }
    }
    let simple = objects.len() == 1;
    let mut z = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let stored = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let deflated =
        SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    let e = |e: zip::result::ZipError| e.to_string();
    let io = |e: std::io::Error| e.to_string();
    z.start_file("mimetype", stored).map_err(e)?;
    z.write_all(if simple { MIMETYPE_S } else { MIMETYPE_E }.as_bytes())
        .map_err(io)?;
    for o in objects {
        z.start_file(o.name, deflated).map_err(e)?;
        z.write_all(o.bytes).map_err(io)?;
    }
    if !simple {
        let mut m = String::from(
            r#"<?xml version="1.0" encoding="UTF-8"?><asic:ASiCManifest xmlns:asic="http://uri.etsi.org/02918/v1.2.1#" xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><asic:SigReference URI="META-INF/evidencerecord.ers" MimeType="application/vnd.etsi.evidencerecord"/>"#,
        );
        for o in objects {
            let digest = base64::engine::general_purpose::STANDARD
                .encode(crate::alg::DigestAlgorithm::Sha256.digest(o.bytes));
            m.push_str(&format!(
                r#"<asic:DataObjectReference URI="{}" MimeType="{}"><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue>{digest}</ds:DigestValue></asic:DataObjectReference>"#,
                o.name,
                o.media_type.replace(['"', '<', '&'], "")
            ));
        }
        m.push_str("</asic:ASiCManifest>");
        z.start_file("META-INF/ASiCEvidenceRecordManifest.xml", deflated)
            .map_err(e)?;
        z.write_all(m.as_bytes()).map_err(io)?;
    }
    z.start_file("META-INF/evidencerecord.ers", deflated)
        .map_err(e)?;
    z.write_all(er).map_err(io)?;
    Ok(z.finish().map_err(e)?.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};
    use std::io::Write;

    const C2: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/conformance/tr-esor-c2/TESTDATA"
    );

    fn c2(name: &str) -> Container {
        let bytes = std::fs::read(format!("{C2}/{name}")).expect("C.2 test data");
        assert!(is_zip(&bytes));
        open(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    fn names(v: &[(String, Vec<u8>)]) -> Vec<&str> {
        v.iter().map(|(n, _)| n.as_str()).collect()
    }

    /// A ZIP with the given entries (deflated).
    fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, data) in entries {
            w.start_file(*name, options).expect("start_file");
            w.write_all(data).expect("write");
        }
        w.finish().expect("finish").into_inner()
    }

    #[test]
    fn asic_s_cades() {
        let c = c2("ASIC_S_CADES_OK.asics");
        assert_eq!(c.kind, AsicKind::Simple);
        assert_eq!(c.mimetype.as_deref(), Some(MIMETYPE_S));
        assert_eq!(names(&c.data_objects), ["TXT_DATA.txt"]);
        assert_eq!(c.data_objects[0].1.len(), 84);
        assert_eq!(names(&c.cades_signatures), ["META-INF/signature.p7s"]);
        assert_eq!(c.cades_signatures[0].1.first(), Some(&0x30));
        assert!(c.timestamps.is_empty() && c.evidence_records.is_empty());
        assert!(c.manifests.is_empty() && c.xades_signatures.is_empty());
    }

    #[test]
    fn containers_with_an_evidence_record_read_back() {
        let doc = DataObject {
            name: "bescheid.pdf",
            media_type: "application/pdf",
            bytes: b"%PDF-1.7 ...",
        };
        let report = DataObject {
            name: "validation-report.json",
            media_type: "application/json",
            bytes: b"{}",
        };
        let s = open(&with_evidence_record(&[doc], b"\x30\x00").unwrap()).unwrap();
        assert_eq!(s.kind, AsicKind::Simple);
        assert_eq!(s.mimetype.as_deref(), Some(MIMETYPE_S));
        assert_eq!(names(&s.data_objects), ["bescheid.pdf"]);
        assert_eq!(s.evidence_records[0].0, "META-INF/evidencerecord.ers");
        let doc = DataObject {
            name: "bescheid.pdf",
            media_type: "application/pdf",
            bytes: b"%PDF-1.7 ...",
        };
        let e = open(&with_evidence_record(&[doc, report], b"\x30\x00").unwrap()).unwrap();
        assert_eq!(e.kind, AsicKind::Extended);
        assert_eq!(e.manifests.len(), 1);
        let m = &e.manifests[0];
        assert_eq!(
            m.sig_reference.as_deref(),
            Some("META-INF/evidencerecord.ers")
        );
        assert_eq!(m.references.len(), 2);
        for r in &m.references {
            let (_, data) = e.data_objects.iter().find(|(n, _)| *n == r.uri).unwrap();
            assert_eq!(r.digest_value, Sha256::digest(data).to_vec());
        }
        // names that would escape or collide are refused
        for bad in ["../x", "META-INF/x", "mimetype", "a//b", ""] {
            let o = DataObject {
                name: bad,
                media_type: "text/plain",
                bytes: b"x",
            };
            assert!(with_evidence_record(&[o], b"").is_err(), "{bad}");
        }
    }

    #[test]
    fn asic_e_cades() {
        let c = c2("ASIC_E_CADES_OK.asice");
        assert_eq!(c.kind, AsicKind::Extended);
        assert_eq!(
            names(&c.data_objects),
            ["test-01.txt", "002-test-document.xml"]
        );
        assert_eq!(names(&c.cades_signatures), ["META-INF/signature.p7s"]);
        assert_eq!(c.manifests.len(), 1);
        let m = &c.manifests[0];
        assert_eq!(m.name, "META-INF/ASiCManifest.xml");
        assert_eq!(m.bytes.len(), 900);
        assert_eq!(m.sig_reference.as_deref(), Some("META-INF/signature.p7s"));
        assert_eq!(m.references.len(), 2);
        for r in &m.references {
            assert_eq!(r.digest_method, "http://www.w3.org/2001/04/xmlenc#sha256");
            let (_, data) = c
                .data_objects
                .iter()
                .find(|(n, _)| *n == r.uri)
                .expect("referenced data object");
            assert_eq!(r.digest_value, Sha256::digest(data).to_vec(), "{}", r.uri);
        }
        assert_eq!(m.references[0].mime_type.as_deref(), Some("text/plain"));
        assert_eq!(m.references[1].mime_type.as_deref(), Some("text/xml"));
    }

    #[test]
    fn time_stamps() {
        let c = c2("ASIC_S_TST_OK.asics");
        assert_eq!(c.kind, AsicKind::Simple);
        assert_eq!(names(&c.timestamps), ["META-INF/timestamp.tst"]);
        assert_eq!(names(&c.data_objects), ["test-01.txt"]);
        let c = c2("ASIC_E_TST_OK.asice");
        assert_eq!(c.kind, AsicKind::Extended);
        assert_eq!(names(&c.timestamps), ["META-INF/timestamp001.tst"]);
        assert_eq!(
            c.manifests[0].sig_reference.as_deref(),
            Some("META-INF/timestamp001.tst")
        );
        for r in &c.manifests[0].references {
            let (_, data) = c.data_objects.iter().find(|(n, _)| *n == r.uri).unwrap();
            assert_eq!(r.digest_value, Sha256::digest(data).to_vec());
        }
    }

    #[test]
    fn evidence_records() {
        let c = c2("ASIC_S_ER_OK.asics");
        assert_eq!(c.kind, AsicKind::Simple);
        assert_eq!(names(&c.evidence_records), ["META-INF/evidencerecord.ers"]);
        let c = c2("ASIC_E_ER_OK.asice");
        assert_eq!(c.kind, AsicKind::Extended);
        assert_eq!(names(&c.evidence_records), ["META-INF/evidencerecord.ers"]);
        assert_eq!(names(&c.data_objects), ["test-01.txt", "test-02.txt"]);
        assert_eq!(c.manifests.len(), 1);
        let m = &c.manifests[0];
        assert_eq!(m.name, "META-INF/ASiCEvidenceRecordManifest.xml");
        assert_eq!(
            m.sig_reference.as_deref(),
            Some("META-INF/evidencerecord.ers")
        );
        assert_eq!(m.references.len(), 2);
        for r in &m.references {
            // written as "...=." in the file: the '.' after the padding is ignored
            assert_eq!(r.digest_value.len(), 32);
            assert_eq!(
                r.digest_method,
                "http://www.w3.org/2007/05/xmldsig-more#sha3-256"
            );
        }
    }

    #[test]
    fn xades() {
        let c = c2("ASIC_S_XADES_OK.asics");
        assert_eq!(c.kind, AsicKind::Simple);
        assert_eq!(names(&c.xades_signatures), ["META-INF/signature.xml"]);
        let c = c2("ASIC_E_XADES_OK.asice");
        assert_eq!(c.kind, AsicKind::Extended);
        assert_eq!(names(&c.xades_signatures), ["META-INF/signatures001.xml"]);
        assert_eq!(c.other_meta_inf, ["META-INF/manifest.xml"]);
        assert!(c.manifests.is_empty());
    }

    #[test]
    fn all_c2_containers_open() {
        for name in [
            "ASIC_AIP_LXAIP_OK_SIG_OK.asice",
            "ASIC_E_CADES_NOK.asice",
            "ASIC_E_ER_NOK.asice",
            "ASIC_E_TST_NOK.asice",
            "ASIC_E_XADES_NOK.asice",
            "ASIC_S_CADES_NOK.asics",
            "ASIC_S_ER_NOK.asics",
            "ASIC_S_TST_NOK.asics",
            "ASIC_S_XADES_NOK.asics",
        ] {
            c2(name);
        }
        // no mimetype entry, several data objects: ASiC-E
        let c = c2("ASIC_AIP_LXAIP_OK_SIG_OK.asice");
        assert_eq!((c.kind, c.mimetype.as_deref()), (AsicKind::Extended, None));
        assert_eq!(c.data_objects.len(), 7);
    }

    #[test]
    fn kind_without_mimetype() {
        let s = zip_of(&[("a.txt", b"x"), ("META-INF/timestamp.tst", b"0")]);
        assert_eq!(open(&s).unwrap().kind, AsicKind::Simple);
        let e = zip_of(&[
            ("a.txt", b"x"),
            ("b.txt", b"y"),
            ("META-INF/timestamp.tst", b"0"),
        ]);
        assert_eq!(open(&e).unwrap().kind, AsicKind::Extended);
        let e = zip_of(&[("dir/a.txt", b"x"), ("META-INF/signature.p7s", b"0")]);
        assert_eq!(open(&e).unwrap().kind, AsicKind::Extended);
    }

    #[test]
    fn unknown_mimetype() {
        let z = zip_of(&[("mimetype", b"application/zip"), ("a.txt", b"x")]);
        assert!(
            matches!(open(&z), Err(AsicError::UnknownMimetype { value }) if value == "application/zip")
        );
    }

    #[test]
    fn path_traversal() {
        for (name, reason) in [
            ("../evil.txt", "`..` component"),
            ("a/../../evil.txt", "`..` component"),
            ("/etc/passwd", "absolute path"),
            ("a\\..\\evil.txt", "backslash"),
            ("C:/evil.txt", "drive letter"),
        ] {
            let z = zip_of(&[("ok.txt", b"x"), (name, b"evil")]);
            match open(&z) {
                Err(AsicError::UnsafeName {
                    index: 1,
                    name: n,
                    reason: r,
                }) => {
                    assert_eq!((n.as_str(), r), (name, reason));
                }
                other => panic!("{name}: {other:?}"),
            }
        }
    }

    #[test]
    fn duplicate_names() {
        // The writer refuses duplicates, so write two names of equal length and patch one.
        let mut z = zip_of(&[("a.txt", b"one"), ("b.txt", b"two")]);
        let mut i = 0;
        while i + 5 <= z.len() {
            if &z[i..i + 5] == b"b.txt" {
                z[i..i + 5].copy_from_slice(b"a.txt");
            }
            i += 1;
        }
        assert!(matches!(open(&z), Err(AsicError::DuplicateName { name }) if name == "a.txt"));
    }

    #[test]
    fn too_many_entries() {
        let entries: Vec<(String, Vec<u8>)> =
            (0..6).map(|i| (format!("f{i}.txt"), vec![b'x'])).collect();
        let refs: Vec<(&str, &[u8])> = entries
            .iter()
            .map(|(n, d)| (n.as_str(), d.as_slice()))
            .collect();
        let z = zip_of(&refs);
        let limits = Limits {
            max_entries: 5,
            ..Limits::default()
        };
        assert!(matches!(
            open_with_limits(&z, limits),
            Err(AsicError::TooManyEntries { count: 6, limit: 5 })
        ));
        assert!(open(&z).is_ok());
    }

    #[test]
    fn not_a_zip() {
        assert!(matches!(open(b"hello"), Err(AsicError::NotZip)));
        assert!(matches!(open(b""), Err(AsicError::NotZip)));
        // the right magic, then garbage
        assert!(matches!(
            open(b"PK\x03\x04garbage garbage garbage"),
            Err(AsicError::Zip { .. })
        ));
        // a real container cut in half
        let bytes = std::fs::read(format!("{C2}/ASIC_S_CADES_OK.asics")).unwrap();
        assert!(open(&bytes[..bytes.len() / 2]).is_err());
    }

    #[test]
    fn deflate_bomb() {
        // 8 MiB of zeros deflates to a few KiB
        let zeros = vec![0u8; 8 << 20];
        let z = zip_of(&[("bomb.bin", &zeros)]);
        assert!(z.len() < 64 << 10, "{}", z.len());
        let limits = Limits {
            max_entry_size: 1 << 20,
            ..Limits::default()
        };
        assert!(matches!(
            open_with_limits(&z, limits),
            Err(AsicError::EntryTooLarge { name, limit }) if name == "bomb.bin" && limit == 1 << 20
        ));
        // several entries each within the entry limit but too much together
        let part = vec![0u8; 1 << 20];
        let z = zip_of(&[("a", &part), ("b", &part), ("c", &part)]);
        let limits = Limits {
            max_entry_size: 1 << 20,
            max_total_size: (5 << 20) / 2,
            ..Limits::default()
        };
        assert!(matches!(
            open_with_limits(&z, limits),
            Err(AsicError::TotalTooLarge { name, .. }) if name == "c"
        ));
        assert_eq!(open(&z).unwrap().data_objects.len(), 3);
    }

    #[test]
    fn declared_size_is_not_trusted() {
        // claim 1 byte in both headers, deliver 8 MiB
        let zeros = vec![0u8; 8 << 20];
        let mut z = zip_of(&[("bomb.bin", &zeros)]);
        let size = (8u32 << 20).to_le_bytes();
        let mut i = 0;
        while i + 4 <= z.len() {
            if z[i..i + 4] == size {
                z[i..i + 4].copy_from_slice(&1u32.to_le_bytes());
            }
            i += 1;
        }
        let limits = Limits {
            max_entry_size: 1 << 20,
            ..Limits::default()
        };
        assert!(matches!(
            open_with_limits(&z, limits),
            Err(AsicError::Read { .. } | AsicError::EntryTooLarge { .. })
        ));
    }

    #[test]
    fn manifests() {
        let manifest = br#"<?xml version="1.0"?>
<m:ASiCManifest xmlns:m="http://uri.etsi.org/02918/v1.2.1#" xmlns:d="http://www.w3.org/2000/09/xmldsig#">
  <m:SigReference URI="META-INF/signature001.p7s" MimeType="application/pkcs7-signature"/>
  <m:DataObjectReference URI="a.txt">
    <d:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/>
    <d:DigestValue>
      ypeBEsobvcr6wjGzmiPcTaeG7/gUfE5yuYB3ha/uSLs=
    </d:DigestValue>
  </m:DataObjectReference>
</m:ASiCManifest>"#;
        let z = zip_of(&[
            ("mimetype", MIMETYPE_E.as_bytes()),
            ("a.txt", b"a"),
            ("META-INF/ASiCManifest001.xml", manifest),
            ("META-INF/signature001.p7s", b"0"),
        ]);
        let c = open(&z).unwrap();
        let m = &c.manifests[0];
        assert_eq!(m.bytes, manifest);
        assert_eq!(
            m.sig_reference.as_deref(),
            Some("META-INF/signature001.p7s")
        );
        assert_eq!(m.references[0].mime_type, None);
        assert_eq!(m.references[0].digest_value, Sha256::digest(b"a").to_vec());

        let bad = |xml: &str| {
            let z = zip_of(&[
                ("mimetype", MIMETYPE_E.as_bytes()),
                ("META-INF/ASiCManifest.xml", xml.as_bytes()),
            ]);
            open(&z)
        };
        assert!(matches!(bad("<a><b></a>"), Err(AsicError::Xml { .. })));
        let dtd = r#"<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><ASiCManifest>&e;</ASiCManifest>"#;
        assert!(matches!(bad(dtd), Err(AsicError::Xml { .. })));
        assert!(matches!(
            bad("<Other/>"),
            Err(AsicError::Manifest {
                detail: "the root element is not ASiCManifest",
                ..
            })
        ));
        assert!(matches!(
            bad("<ASiCManifest><DataObjectReference><DigestMethod Algorithm='x'/><DigestValue>AA==</DigestValue></DataObjectReference></ASiCManifest>"),
            Err(AsicError::Manifest { detail: "DataObjectReference without URI", .. })
        ));
        assert!(matches!(
            bad("<ASiCManifest><DataObjectReference URI='a'><DigestValue>AA==</DigestValue></DataObjectReference></ASiCManifest>"),
            Err(AsicError::Manifest { detail: "DataObjectReference without DigestMethod", .. })
        ));
        assert!(matches!(
            bad("<ASiCManifest><DataObjectReference URI='a'><DigestMethod Algorithm='x'/><DigestValue>%%%</DigestValue></DataObjectReference></ASiCManifest>"),
            Err(AsicError::DigestValue { uri, .. }) if uri == "a"
        ));
        assert!(matches!(
            bad("<ASiCManifest><SigReference URI='a'/><SigReference URI='b'/></ASiCManifest>"),
            Err(AsicError::Manifest {
                detail: "more than one SigReference",
                ..
            })
        ));
        let not_utf8 = zip_of(&[("META-INF/ASiCManifest.xml", b"<a>\xff</a>")]);
        assert!(matches!(
            open(&not_utf8),
            Err(AsicError::ManifestNotUtf8 { .. })
        ));
    }

    #[test]
    fn base64_tail() {
        assert_eq!(decode_base64(" AA== \n").unwrap(), [0]);
        assert_eq!(decode_base64("AA==.").unwrap(), [0]);
        assert!(decode_base64("AA==AA==").is_err());
        assert!(decode_base64("AA.").is_err());
        assert!(decode_base64("AAA").is_err());
    }
}
