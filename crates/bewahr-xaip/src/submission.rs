//! What an archive checks of a package submitted to it (TR-ESOR-E 1.3,
//! ArchiveSubmission; C.2 cases SU-01 to SU-06), and the one change it
//! makes: the AOID it assigns, written into the package header.
//!
//! Pure: the time of the submission and the tolerance come in as
//! parameters. Signatures and embedded evidence records are only found
//! here; judging them is the archive's (its validator and verifier).

use time::{Date, OffsetDateTime};

use crate::package::{ObjectKind, References, Xaip, XaipError, XAIP_NS};
use crate::xml;

const DSS_NS: &str = "urn:oasis:names:tc:dss:1.0:core:schema";
const DS_NS: &str = "http://www.w3.org/2000/09/xmldsig#";

/// The one `XAIPVersion` of TR-ESOR-F 1.3.
pub const XAIP_VERSION: &str = "1.3.0";

/// Why a package is refused, by the result codes of TR-ESOR-E.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// `XAIP_NOK`: not an XAIP this archive takes (schema, XAIPVersion,
    /// structure).
    #[error("{0}")]
    Nok(String),
    /// `XAIP_NOK_EXPIRED`: the retention period is already over.
    #[error("{0}")]
    Expired(String),
    /// `XAIP_NOK_SUBMTIME`: the submission time is too far from now.
    #[error("{0}")]
    SubmissionTime(String),
}

/// What the archive takes from a version's manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionFacts {
    /// `VersionID`.
    pub id: String,
    /// `preservationInfo/retentionPeriod` (its date; a time zone is ignored).
    pub retention: Date,
    /// `submissionInfo/clientID`.
    pub client_id: Option<String>,
    /// `submissionInfo/submissionTime`.
    pub submission_time: Option<OffsetDateTime>,
}

impl VersionFacts {
    /// The checks of a new version's dates (on submission and on update):
    /// its retention period not over on `now`'s date, and its submission
    /// time, when given, within `tolerance` of `now`.
    pub fn check_times(
        &self,
        now: OffsetDateTime,
        tolerance: time::Duration,
    ) -> Result<(), Refusal> {
        if self.retention < now.date() {
            return Err(Refusal::Expired(format!(
                "version {}: the retention period ended on {} (today is {})",
                self.id,
                self.retention,
                now.date()
            )));
        }
        if let Some(t) = self.submission_time {
            let off = (t - now).abs();
            if off > tolerance {
                return Err(Refusal::SubmissionTime(format!(
                    "version {}: the submission time {} is {} hours from now; at most {} hours are accepted",
                    self.id,
                    t,
                    off.whole_hours(),
                    tolerance.whole_hours()
                )));
            }
        }
        Ok(())
    }
}

/// A signature the package carries: a credential with
/// `dss:SignatureObject/dss:Base64Signature` (CMS: a detached signature
/// over its related object, or an enveloping one), or an XML signature.
#[derive(Clone, Debug)]
pub struct EmbeddedSignature {
    pub credential_id: String,
    pub form: SignatureForm,
    /// The related objects (`credential@relatedObjects`) the signature is
    /// over, with the bytes TR-ESOR-ERS hashes for each (binary data
    /// decoded): a detached signature is checked against them.
    pub related: Vec<(String, Vec<u8>)>,
}

#[derive(Clone, Debug)]
pub enum SignatureForm {
    /// DER (or BER) CMS.
    Cms(Vec<u8>),
    /// `ds:Signature` (XAdES), in two forms, since a signature made
    /// elsewhere and pasted into the package canonicalises differently in
    /// it (inclusive C14N takes in the package's namespaces):
    Xml {
        /// In place: its inclusive canonical form with comments, so that
        /// every namespace in scope in the package is declared on it and
        /// `ds:SignedInfo` canonicalises as it does inside the package.
        in_place: Vec<u8>,
        /// As made elsewhere: its exclusive canonical form with comments
        /// (each namespace declared where it is used, none of the
        /// package's others), when that differs from `in_place`.
        standalone: Option<Vec<u8>>,
    },
}

/// Parses an `xs:date` (`2100-01-01`, `2100-01-01+01:00`, `2100-01-01Z`):
/// the date; the time zone does not move a day boundary the archive keeps.
pub(crate) fn xs_date(s: &str) -> Option<Date> {
    let s = s.trim();
    let body = if let Some(b) = s.strip_suffix('Z') {
        b
    } else if s.len() > 10 && (s[10..].starts_with('+') || s[10..].starts_with('-')) {
        &s[..10]
    } else {
        s
    };
    Date::parse(
        body,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .ok()
}

/// Parses an `xs:dateTime`; without a time zone it is taken as UTC.
fn xs_date_time(s: &str) -> Option<OffsetDateTime> {
    use time::format_description::well_known::Rfc3339;
    let s = s.trim();
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Some(t);
    }
    OffsetDateTime::parse(&format!("{s}Z"), &Rfc3339).ok()
}

impl Xaip {
    /// `XAIPVersion` of the root.
    pub fn xaip_version(&self) -> Option<String> {
        self.root().get_attribute("XAIPVersion")
    }

    /// The facts of each version manifest, in order. `XAIP_NOK` when a
    /// date is not a date.
    pub fn version_facts(&self) -> Result<Vec<VersionFacts>, Refusal> {
        let mut out = vec![];
        for m in xml::children(self.header(), XAIP_NS, "versionManifest") {
            let id = m.get_attribute("VersionID").unwrap_or_default();
            let text = |path: &[&str]| -> Option<String> {
                let mut n = m.clone();
                for p in path {
                    n = xml::child(&n, XAIP_NS, p)?;
                }
                Some(n.get_content().trim().to_string())
            };
            let retention_text = text(&["preservationInfo", "retentionPeriod"])
                .ok_or_else(|| Refusal::Nok(format!("version {id}: no retentionPeriod")))?;
            let retention = xs_date(&retention_text).ok_or_else(|| {
                Refusal::Nok(format!(
                    "version {id}: retentionPeriod {retention_text:?} is not an xs:date"
                ))
            })?;
            let submission_time = match text(&["submissionInfo", "submissionTime"]) {
                None => None,
                Some(t) => Some(xs_date_time(&t).ok_or_else(|| {
                    Refusal::Nok(format!(
                        "version {id}: submissionTime {t:?} is not an xs:dateTime"
                    ))
                })?),
            };
            out.push(VersionFacts {
                id,
                retention,
                client_id: text(&["submissionInfo", "clientID"]).filter(|c| !c.is_empty()),
                submission_time,
            });
        }
        Ok(out)
    }

    /// The checks of a new package (ArchiveSubmission) that need neither
    /// a validator nor a verifier, in the order C.2 expects them to be
    /// reported: `XAIPVersion`, one version, the retention period not
    /// over on `now`'s date, and a submission time (when given) within
    /// `tolerance` of `now`. The version's facts on success. (That its
    /// protected objects can be read is [`Xaip::protected_objects`]'s.)
    pub fn check_submission(
        &self,
        now: OffsetDateTime,
        tolerance: time::Duration,
    ) -> Result<VersionFacts, Refusal> {
        if !xml::is(&self.root(), XAIP_NS, "XAIP") {
            return Err(Refusal::Nok(
                "a submission carries an xaip:XAIP (a DXAIP is an update)".into(),
            ));
        }
        match self.xaip_version() {
            Some(v) if v == XAIP_VERSION => {}
            other => {
                return Err(Refusal::Nok(format!(
                    "XAIPVersion is {:?}; this archive takes TR-ESOR-F {XAIP_VERSION}",
                    other.unwrap_or_default()
                )))
            }
        }
        let mut facts = self.version_facts()?;
        if facts.len() != 1 {
            return Err(Refusal::Nok(format!(
                "the package has {} versions; a new archive object is submitted with one, later versions come as DXAIPs (ArchiveUpdate)",
                facts.len()
            )));
        }
        let v = facts.remove(0);
        v.check_times(now, tolerance)?;
        Ok(v)
    }

    /// The signatures the package carries (every credential with a
    /// `dss:SignatureObject/dss:Base64Signature` or a `ds:Signature`).
    pub fn signatures(&self, refs: &References) -> Result<Vec<EmbeddedSignature>, XaipError> {
        let mut out = vec![];
        let Some(section) = xml::child(&self.root(), XAIP_NS, "credentialsSection") else {
            return Ok(out);
        };
        for cred in xml::children(&section, XAIP_NS, "credential") {
            let id = cred.get_attribute("credentialID").unwrap_or_default();
            // an LXAIP's credential: a reference to a file, a CMS
            // signature if the file is one (when the file is at hand)
            let referenced = xml::child(&cred, XAIP_NS, "other")
                .and_then(|o| xml::child(&o, crate::lxaip::ASIC_NS, "DataObjectReference"))
                .and_then(|r| r.get_attribute("URI"));
            let so = xml::child(&cred, DSS_NS, "SignatureObject");
            let form = if let Some(uri) = referenced {
                if !(refs.files.contains_key(&uri) || refs.dir.is_some()) {
                    continue;
                }
                let file = self.bytes_of(&id, refs)?;
                if !crate::lxaip::is_cms_signed_data(&file) {
                    continue;
                }
                SignatureForm::Cms(file)
            } else if let Some(so) = so {
                if let Some(s) = xml::child(&so, DSS_NS, "Base64Signature") {
                    SignatureForm::Cms(crate::package::base64_content(&s.get_content()).map_err(
                        |e| XaipError::Object {
                            id: id.clone(),
                            what: format!("Base64Signature: not base64 ({e})"),
                        },
                    )?)
                } else if let Some(sig) = xml::child(&so, DS_NS, "Signature") {
                    let in_place = xml::canonicalize(
                        &self.doc,
                        &sig,
                        xml::C14n::Inclusive10 { comments: true },
                    )
                    .map_err(|e| XaipError::Object {
                        id: id.clone(),
                        what: format!("ds:Signature: {e}"),
                    })?;
                    // the package may have passed through canonicalisation
                    // (an S.4 request's XAIP does), which drops declarations
                    // the signature repeated from the package: exclusive
                    // C14N declares each namespace where it is used, as a
                    // signature made on its own has them
                    let standalone = xml::canonicalize(
                        &self.doc,
                        &sig,
                        xml::C14n::Exclusive10 { comments: true },
                    )
                    .ok()
                    .filter(|alone| *alone != in_place);
                    SignatureForm::Xml {
                        in_place,
                        standalone,
                    }
                } else {
                    continue;
                }
            } else {
                continue;
            };
            let mut related = vec![];
            for r in cred
                .get_attribute("relatedObjects")
                .unwrap_or_default()
                .split_whitespace()
            {
                if let Some(bytes) = self.related_bytes(r, refs)? {
                    related.push((r.to_string(), bytes));
                }
            }
            out.push(EmbeddedSignature {
                credential_id: id,
                form,
                related,
            });
        }
        Ok(out)
    }

    /// The package with `aoid` as its `packageHeader/AOID`: an AOID the
    /// package has is replaced, else one is put first in the header (its
    /// place in the schema). Everything else stays byte for byte, which a
    /// text edit keeps and a re-serialisation would not (the AOID is not
    /// hashed by any evidence record, TR-ESOR-ERS).
    pub fn with_aoid(bytes: &[u8], aoid: &str) -> Result<Vec<u8>, XaipError> {
        let text = std::str::from_utf8(bytes).map_err(|_| XaipError::Object {
            id: "packageHeader".into(),
            what: "the package is not UTF-8; the AOID cannot be written into it".into(),
        })?;
        let x = Xaip::parse(bytes)?;
        let prefix = x.header().get_namespace().map(|n| n.get_prefix());
        let qname = |local: &str| qualified(prefix.as_deref(), local);
        let element = format!("<{0}>{1}</{0}>", qname("AOID"), escape(aoid));
        // the header's start tag: the first `<prefix:packageHeader` that
        // is followed by white space, `>` or `/`
        let open = format!("<{}", qname("packageHeader"));
        let start = find_tag(text, &open).ok_or_else(|| XaipError::Object {
            id: "packageHeader".into(),
            what: "its start tag was not found in the text".into(),
        })?;
        let end = start
            + text[start..].find('>').ok_or_else(|| XaipError::Object {
                id: "packageHeader".into(),
                what: "its start tag is not closed".into(),
            })?;
        let mut out = String::with_capacity(text.len() + element.len());
        let aoid_open = format!("<{}", qname("AOID"));
        if x.aoid().is_some() {
            // replace the existing element's content
            let a = find_tag(&text[end..], &aoid_open).map(|i| i + end);
            let close = format!("</{}>", qname("AOID"));
            let (Some(a), Some(c)) = (a, text.get(end..).and_then(|t| t.find(&close))) else {
                return Err(XaipError::Object {
                    id: "packageHeader".into(),
                    what: "its AOID element was not found in the text".into(),
                });
            };
            let c = c + end + close.len();
            out.push_str(&text[..a]);
            out.push_str(&element);
            out.push_str(&text[c..]);
        } else if text[..end].ends_with('/') {
            return Err(XaipError::NoHeader);
        } else {
            out.push_str(&text[..=end]);
            out.push_str(&element);
            out.push_str(&text[end + 1..]);
        }
        Ok(out.into_bytes())
    }

    /// The package with evidence records added to its credentials section
    /// (TR-ESOR-E ArchiveRetrieval with `IncludeERS`): for each
    /// `(VersionID, DER)` a `credential` related to the version holding an
    /// `evidenceRecord` with the AOID and VersionID. Text is inserted, the
    /// rest stays byte for byte (no protected object changes: the version
    /// manifests are left as they are).
    pub fn with_records(
        bytes: &[u8],
        aoid: &str,
        records: &[(String, Vec<u8>)],
    ) -> Result<Vec<u8>, XaipError> {
        use base64::Engine;
        let text = std::str::from_utf8(bytes).map_err(|_| XaipError::Object {
            id: "credentialsSection".into(),
            what: "the package is not UTF-8".into(),
        })?;
        let x = Xaip::parse(bytes)?;
        let root = x.root();
        let prefix = root.get_namespace().map(|n| n.get_prefix());
        let q = |local: &str| qualified(prefix.as_deref(), local);
        let esc = escape;
        let mut creds = String::new();
        for (version, der) in records {
            let mut id = format!("ER-{version}");
            let mut n = 1;
            while x.node(&id).is_some() {
                n += 1;
                id = format!("ER-{version}-{n}");
            }
            creds.push_str(&format!(
                "<{c} credentialID=\"{id}\" relatedObjects=\"{v}\"><{e} AOID=\"{a}\" VersionID=\"{v}\"><{r}>{b}</{r}></{e}></{c}>",
                c = q("credential"),
                e = q("evidenceRecord"),
                r = q("asn1EvidenceRecord"),
                id = esc(&id),
                v = esc(version),
                a = esc(aoid),
                b = base64::engine::general_purpose::STANDARD.encode(der),
            ));
        }
        let close_section = format!("</{}>", q("credentialsSection"));
        let at = if xml::child(&root, XAIP_NS, "credentialsSection").is_some() {
            text.rfind(&close_section)
        } else if xml::child(&root, XAIP_NS, "extension").is_none() {
            creds = format!("<{0}>{creds}</{0}>", q("credentialsSection"));
            text.rfind(&format!("</{}>", q("XAIP")))
        } else {
            None
        };
        let at = at.ok_or_else(|| XaipError::Object {
            id: "credentialsSection".into(),
            what: "no place for the evidence records was found in the text".into(),
        })?;
        let mut out = String::with_capacity(text.len() + creds.len());
        out.push_str(&text[..at]);
        out.push_str(&creds);
        out.push_str(&text[at..]);
        Ok(out.into_bytes())
    }

    /// The bytes of a related object (a data or metadata object), as
    /// TR-ESOR-ERS hashes them; `None` for other IDs (a version, say).
    fn related_bytes(&self, id: &str, refs: &References) -> Result<Option<Vec<u8>>, XaipError> {
        match self.node(id) {
            Some(n)
                if xml::is(&n, XAIP_NS, "dataObject") || xml::is(&n, XAIP_NS, "metaDataObject") =>
            {
                Ok(Some(self.bytes_of(id, refs)?))
            }
            // an object of an earlier version (a DXAIP's placeholder)
            Some(n) if xml::is(&n, XAIP_NS, "placeHolder") => match refs.earlier.get(id) {
                Some((ObjectKind::DataObject | ObjectKind::MetaDataObject, b)) => {
                    Ok(Some(b.clone()))
                }
                _ => Ok(None),
            },
            _ => Ok(None),
        }
    }
}

/// `prefix:local`, or `local` in the default namespace.
pub(crate) fn qualified(prefix: Option<&str>, local: &str) -> String {
    match prefix {
        Some(p) if !p.is_empty() => format!("{p}:{local}"),
        _ => local.to_string(),
    }
}

/// Text for element content or a double-quoted attribute.
pub(crate) fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The offset of a start tag `open` (`<p:name`) followed by white space,
/// `>` or `/`, outside comments.
pub(crate) fn find_tag(text: &str, open: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = text[from..].find(open) {
        let at = from + i;
        let next = text[at + open.len()..].chars().next();
        let in_comment = text[..at]
            .rfind("<!--")
            .is_some_and(|c| !text[c..at].contains("-->"));
        if !in_comment && matches!(next, Some(c) if c.is_whitespace() || c == '>' || c == '/') {
            return Some(at);
        }
        from = at + open.len();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    use crate::c2;

    #[test]
    fn dates_of_the_schema() {
        assert_eq!(
            xs_date("2100-01-01+01:00"),
            Some(time::macros::date!(2100 - 01 - 01))
        );
        assert_eq!(
            xs_date("2100-01-01Z"),
            Some(time::macros::date!(2100 - 01 - 01))
        );
        assert_eq!(
            xs_date("2100-01-01"),
            Some(time::macros::date!(2100 - 01 - 01))
        );
        assert_eq!(xs_date("01.01.2100"), None);
        assert_eq!(
            xs_date_time("2021-10-01T00:00:00.000+01:00"),
            Some(datetime!(2021-09-30 23:00 UTC))
        );
        assert_eq!(
            xs_date_time("2021-10-01T00:00:00"),
            Some(datetime!(2021-10-01 00:00 UTC))
        );
    }

    #[test]
    fn c2_submission_checks() {
        let Some(ok) = c2("XAIP_OK.xml") else {
            return;
        };
        let now = datetime!(2026-12-05 12:00 UTC);
        let tol = time::Duration::days(10);
        let x = Xaip::parse_valid(&ok).unwrap();
        let v = x.check_submission(now, tol).unwrap();
        assert_eq!(v.id, "V001");
        assert_eq!(v.client_id.as_deref(), Some("BSI-Test-Client"));
        let check = |name: &str| {
            let b = c2(name).unwrap();
            match Xaip::parse_valid(&b) {
                Err(XaipError::Invalid(_)) => Err(Refusal::Nok("schema".into())),
                Err(e) => panic!("{name}: {e}"),
                Ok(x) => x.check_submission(now, tol).map(|_| ()),
            }
        };
        assert!(matches!(
            check("XAIP_NOK_VERSION.xml"),
            Err(Refusal::Nok(_))
        ));
        assert!(matches!(
            check("XAIP_NOK_EXPIRED.xml"),
            Err(Refusal::Expired(_))
        ));
        for f in ["XAIP_NOK_SUBMTIME_PAST.xml", "XAIP_NOK_SUBMTIME_FUTURE.xml"] {
            assert!(matches!(check(f), Err(Refusal::SubmissionTime(_))), "{f}");
        }
        // a time within the tolerance passes (both C.2 dates are past now)
        let x = Xaip::parse_valid(&c2("XAIP_NOK_SUBMTIME_FUTURE.xml").unwrap()).unwrap();
        assert!(x
            .check_submission(datetime!(2021-10-03 00:00 UTC), tol)
            .is_ok());
        assert!(matches!(
            x.check_submission(datetime!(2021-09-03 00:00 UTC), tol),
            Err(Refusal::SubmissionTime(_))
        ));
    }

    #[test]
    fn c2_signatures_with_their_data() {
        let Some(b) = c2("XAIP_OK_SIG_OK.xml") else {
            return;
        };
        let x = Xaip::parse_valid(&b).unwrap();
        let sigs = x.signatures(&References::default()).unwrap();
        assert_eq!(sigs.len(), 2);
        for s in &sigs {
            assert!(matches!(s.form, SignatureForm::Cms(_)));
            assert_eq!(s.related.len(), 1, "{}", s.credential_id);
        }
    }

    #[test]
    fn the_aoid_is_written_and_nothing_else_changes() {
        let Some(b) = c2("XAIP_OK.xml") else {
            return;
        };
        let with = Xaip::with_aoid(&b, "urn:bewahr:aoid:1&2").unwrap();
        let x = Xaip::parse_valid(&with).unwrap();
        assert_eq!(x.aoid().as_deref(), Some("urn:bewahr:aoid:1&2"));
        let added = with.len() - b.len();
        assert_eq!(
            added,
            "<xaip:AOID>urn:bewahr:aoid:1&amp;2</xaip:AOID>".len()
        );
        // replaced, not added twice
        let again = Xaip::with_aoid(&with, "X-2").unwrap();
        let x = Xaip::parse_valid(&again).unwrap();
        assert_eq!(x.aoid().as_deref(), Some("X-2"));
        assert_eq!(
            Xaip::with_aoid(&again, "urn:bewahr:aoid:1&2").unwrap(),
            with
        );
        // evidence records go into the credentials section, found again
        let with_er = Xaip::with_records(
            &with,
            "A-1",
            &[("V001".into(), vec![0x30, 0x03, 0x02, 0x01, 0x01])],
        )
        .unwrap();
        let y = Xaip::parse_valid(&with_er).unwrap();
        let found = y.embedded_records("V001").unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].der, vec![0x30, 0x03, 0x02, 0x01, 0x01]);
        let sig_ok = c2("XAIP_OK_SIG_OK.xml").unwrap();
        let z = Xaip::with_records(&sig_ok, "A-1", &[("V001".into(), vec![1])]).unwrap();
        assert_eq!(
            Xaip::parse_valid(&z)
                .unwrap()
                .embedded_records("V001")
                .unwrap()
                .len(),
            1
        );
        // the protected objects are the same
        let a = Xaip::parse(&b).unwrap();
        let po = |x: &Xaip| {
            x.protected_objects("V001", &crate::References::default())
                .unwrap()
                .into_iter()
                .map(|o| o.bytes)
                .collect::<Vec<_>>()
        };
        assert_eq!(po(&a), po(&x));
    }
}
