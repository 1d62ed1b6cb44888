//! `bewahr verify --xaip`: an evidence record checked against the protected
//! objects of one version of an XAIP (TR-ESOR-ERS: one data-object group
//! per version), the record given or carried in the package.

use std::path::{Path, PathBuf};

use bewahr_xaip::{References, Xaip};

/// `xaip:evidenceRecord` (what S.4 ArchiveEvidence returns), or its DER inside.
const XAIP_NS: &str = "http://www.bsi.bund.de/tr-esor/xaip";

/// The records to check (a label and the DER each) and the version's
/// protected objects, in the package's order.
pub struct Loaded {
    pub version: String,
    pub records: Vec<(String, Vec<u8>)>,
    pub objects: Vec<Vec<u8>>,
    pub ids: Vec<String>,
}

/// Why a package could not be loaded.
pub enum LoadError {
    /// Not valid against the XAIP schema: no XAIP (TR-ESOR-F `XAIP_NOK`),
    /// whatever a record says about its bytes.
    Invalid(String),
    /// Anything else: a file, an argument, a version or record not there.
    Usage(String),
}

impl From<String> for LoadError {
    fn from(s: String) -> Self {
        LoadError::Usage(s)
    }
}

pub fn load(
    package: &Path,
    version: Option<&str>,
    lxaip_dir: Option<&Path>,
    er: Option<&Path>,
) -> Result<Loaded, LoadError> {
    let at = |e: &dyn std::fmt::Display| format!("--xaip {}: {e}", package.display());
    let bytes = std::fs::read(package).map_err(|e| at(&e))?;
    let xaip = match Xaip::parse_valid(&bytes) {
        Ok(x) => x,
        Err(e @ bewahr_xaip::XaipError::Invalid(_)) => {
            return Err(LoadError::Invalid(e.to_string()))
        }
        Err(e) => return Err(at(&e).into()),
    };
    let version = match version {
        Some(v) => v.to_string(),
        None => xaip
            .versions()
            .pop()
            .ok_or_else(|| at(&"the package has no version manifest"))?,
    };
    let refs = References {
        dir: Some(
            lxaip_dir
                .map(Path::to_path_buf)
                .or_else(|| package.parent().map(Path::to_path_buf))
                .unwrap_or_else(|| PathBuf::from(".")),
        ),
        ..Default::default()
    };
    let objects = xaip
        .protected_objects(&version, &refs)
        .map_err(|e| at(&e))?;
    let records = match er {
        Some(p) => {
            let raw = std::fs::read(p).map_err(|e| format!("--er {}: {e}", p.display()))?;
            let der = detached_record(&raw, xaip.aoid().as_deref(), &version)
                .map_err(|e| format!("--er {}: {e}", p.display()))?;
            vec![(p.display().to_string(), der)]
        }
        None => {
            let found = xaip.embedded_records(&version).map_err(|e| at(&e))?;
            if found.is_empty() {
                return Err(at(&format!(
                    "the package carries no evidence record for version {version}: give one with --er"
                ))
                .into());
            }
            found
                .into_iter()
                .map(|r| (format!("credential {}", r.credential_id), r.der))
                .collect()
        }
    };
    Ok(Loaded {
        version,
        records,
        ids: objects.iter().map(|o| o.id.clone()).collect(),
        objects: objects.into_iter().map(|o| o.bytes).collect(),
    })
}

/// A record file: DER as is, or an `xaip:evidenceRecord` element whose
/// `AOID` and `VersionID` (when present) must name this package and version.
fn detached_record(raw: &[u8], aoid: Option<&str>, version: &str) -> Result<Vec<u8>, String> {
    let text_start = raw.iter().find(|b| !b.is_ascii_whitespace());
    if text_start != Some(&b'<') {
        return Ok(raw.to_vec());
    }
    let doc = bewahr_xaip::xml::parse(raw).map_err(|e| e.to_string())?;
    let root = doc.get_root_element().ok_or("no root element")?;
    if bewahr_xaip::xml::is(&root, "urn:ietf:params:xml:ns:ers", "EvidenceRecord") {
        return Err(
            "an RFC 6283 (XML) evidence record: not read yet; give the RFC 4998 (DER) form".into(),
        );
    }
    if !bewahr_xaip::xml::is(&root, XAIP_NS, "evidenceRecord") {
        return Err("neither a DER evidence record nor an xaip:evidenceRecord element".into());
    }
    if let (Some(want), Some(have)) = (aoid, root.get_attribute("AOID")) {
        if want != have {
            return Err(format!(
                "the record is for AOID {have}, the package is {want}"
            ));
        }
    }
    if let Some(v) = root.get_attribute("VersionID") {
        if v != version {
            return Err(format!(
                "the record is for version {v}, not {version} (choose with --version)"
            ));
        }
    }
    let asn1 = bewahr_xaip::xml::child(&root, XAIP_NS, "asn1EvidenceRecord")
        .ok_or("the xaip:evidenceRecord holds no asn1EvidenceRecord")?;
    bewahr_xaip::package::base64_content(&asn1.get_content())
        .map_err(|e| format!("asn1EvidenceRecord: not base64 ({e})"))
}
