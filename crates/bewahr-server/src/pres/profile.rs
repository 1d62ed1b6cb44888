//! The preservation profiles RetrieveInfo answers with (ETSI TS 119 512
//! clause 5.4.7), in both bindings: BSI's profile of the TS for TR-ESOR
//! 1.3 (scheme F.1, everything the archive offers) and a profile for
//! hash-only preservation (scheme F.2: DigestLists). Identifiers and
//! validity periods are constants: the same across restarts and nodes.

use serde_json::{json, Value};
use time::OffsetDateTime;

use crate::s4::respond::{esc, leaf};

/// BSI's profile: TR-ESOR-TRANS's MAX profile (every operation).
pub const BSI: &str = "http://www.bsi.bund.de/tr-esor/V1.3/profile/preservation-api/V1.1.2_MAX";
/// bewahr's profile of hash-only preservation.
pub const HASH_ONLY: &str = "urn:bewahr:ts119512:profile:hash-only:v1";

const TS: &str =
    "https://www.etsi.org/deliver/etsi_ts/119500_119599/119512/01.01.02_60/ts_119512v010102p.pdf";
const TRANS: &str = "https://www.bsi.bund.de/SharedDocs/Downloads/DE/BSI/Publikationen/TechnischeRichtlinien/TR03125/BSI_TR_03125_Anlage_TRANS_V1_3.pdf";

pub const XAIP_FORMAT: &str = "http://www.bsi.bund.de/tr-esor/xaip/1.3";
pub const LXAIP_FORMAT: &str = "http://www.bsi.bund.de/tr-esor/lxaip/1.3";
pub const DXAIP_FORMAT: &str = "http://www.bsi.bund.de/tr-esor/dxaip/1.3";
pub const DLXAIP_FORMAT: &str = "http://www.bsi.bund.de/tr-esor/dlxaip/1.3";
/// ETSI's identifier of an ASiC container with an evidence record (EN 319 162-1).
pub const ASIC_ERS_FORMAT: &str = "http://uri.etsi.org/ades/ASiC/type/ASiC-ERS";
pub const DIGEST_LIST: &str = "http://uri.etsi.org/19512/format/DigestList";
/// The evidence format of the profiles (TS Annex A.2.2 names it
/// `urn:ietf:rfc:4998:EvidenceRecord`, BSI's profiles `urn:ietf:rfc:4998`;
/// requests may use either).
pub const RFC4998: &str = "urn:ietf:rfc:4998";

/// The preservation-evidence policy of TR-ESOR (TRANS 1.4).
pub const PRESERVATION_POLICY: &str = "http://www.bsi.bund.de/DE/tr-esor/prespolicy/default/1.0";
/// The signature validation policy bewahr follows (of TRANS's three).
pub const SIGNATURE_POLICY: &str = "http://www.bsi.bund.de/DE/tr-esor/sigpolicy/verify-xaip";

/// One operation of a profile, with the formats its main input takes.
#[derive(Debug)]
pub struct Operation {
    pub name: &'static str,
    pub formats: &'static [&'static str],
}

/// One preservation profile.
#[derive(Debug)]
pub struct Profile {
    pub id: &'static str,
    pub description: &'static str,
    pub specification: &'static str,
    pub scheme: &'static str,
    pub storage_model: &'static str,
    pub goals: &'static [&'static str],
    /// RFC 3339, UTC.
    pub valid_from: &'static str,
    pub operations: &'static [Operation],
    /// `PreservationEvidenceRetentionPeriod` (required of scheme F.2).
    pub retention: Option<&'static str>,
}

const SUBMISSION_FORMATS: &[&str] = &[
    XAIP_FORMAT,
    LXAIP_FORMAT,
    DIGEST_LIST,
    "http://uri.etsi.org/ades/CAdES",
    "http://uri.etsi.org/ades/XAdES",
    "http://uri.etsi.org/ades/PAdES",
    "http://uri.etsi.org/ades/ASiC/type/ASiC-S",
    "http://uri.etsi.org/ades/ASiC/type/ASiC-E",
];

pub const PROFILES: &[Profile] = &[
    Profile {
        id: BSI,
        description: "bewahr: BSI's profile of ETSI TS 119 512 for TR-ESOR 1.3 (TR-ESOR-TRANS, MAX): preservation of XAIPs and signed documents with storage, evidence records after RFC 4998",
        specification: TRANS,
        scheme: "http://uri.etsi.org/19512/scheme/pds+pgd+aug+wst+ers",
        storage_model: "WithStorage",
        goals: &["pds", "pgd", "aug"],
        valid_from: "2026-12-01T00:00:00Z",
        operations: &[
            Operation { name: "RetrieveInfo", formats: &[] },
            Operation { name: "PreservePO", formats: SUBMISSION_FORMATS },
            Operation { name: "UpdatePOC", formats: &[DXAIP_FORMAT, DLXAIP_FORMAT] },
            Operation { name: "RetrievePO", formats: &[XAIP_FORMAT, LXAIP_FORMAT] },
            Operation { name: "DeletePO", formats: &[] },
            Operation { name: "ValidateEvidence", formats: &[XAIP_FORMAT, LXAIP_FORMAT, DIGEST_LIST] },
            Operation { name: "Search", formats: &[] },
            Operation { name: "RetrieveTrace", formats: &[] },
        ],
        retention: None,
    },
    Profile {
        id: HASH_ONLY,
        description: "bewahr: hash-only preservation (TS 119 512 scheme F.2): the documents stay with the submitter; each value of a DigestList is a data object of the version's group, its evidence record is renewed by the archive (time-stamp and hash-tree renewal); an evidence record given with the list is imported and renewed with it",
        specification: TS,
        scheme: "http://uri.etsi.org/19512/scheme/pgd+wts+ers",
        storage_model: "WithTemporaryStorage",
        goals: &["pgd"],
        valid_from: "2026-12-01T00:00:00Z",
        operations: &[
            Operation { name: "RetrieveInfo", formats: &[] },
            Operation { name: "PreservePO", formats: &[DIGEST_LIST] },
            Operation { name: "RetrievePO", formats: &[] },
            Operation { name: "DeletePO", formats: &[] },
            Operation { name: "ValidateEvidence", formats: &[DIGEST_LIST] },
            Operation { name: "RetrieveTrace", formats: &[] },
        ],
        // the records are kept with the list, as long as the object is
        // (its retention period, or until DeletePO); the TS asks for a
        // duration: a hundred years stands for "as long as the object"
        retention: Some("P100Y"),
    },
];

/// The digest algorithms a DigestList may name (TS F.2.7: the
/// `Parameter/Format/FormatID`s of PreservePO's DigestList input).
pub const DIGEST_ALGORITHMS: &[&str] = &[
    "urn:oid:2.16.840.1.101.3.4.2.1",
    "urn:oid:2.16.840.1.101.3.4.2.2",
    "urn:oid:2.16.840.1.101.3.4.2.3",
    "urn:oid:2.16.840.1.101.3.4.2.8",
    "urn:oid:2.16.840.1.101.3.4.2.9",
    "urn:oid:2.16.840.1.101.3.4.2.10",
];

fn parse(t: &str) -> OffsetDateTime {
    OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
        .expect("the profiles' dates are RFC 3339")
}

/// The profile `id` names, if it is one of this service's active ones.
pub fn active(id: &str, now: OffsetDateTime) -> Option<&'static Profile> {
    PROFILES.iter().find(|p| p.id == id && p.is_active(now))
}

/// The profiles RetrieveInfo answers with: by identifier and status
/// (`active`, the default, `inactive`, `all`). `Err`: what is wrong.
pub fn select(
    id: Option<&str>,
    status: Option<&str>,
    now: OffsetDateTime,
) -> Result<Vec<&'static Profile>, String> {
    let status = status.unwrap_or("active");
    if !["active", "inactive", "all"].contains(&status) {
        return Err(format!("stat {status:?}: one of active, inactive, all"));
    }
    if let Some(id) = id {
        if !PROFILES.iter().any(|p| p.id == id) {
            return Err(format!(
                "no preservation profile of this service is called {id}"
            ));
        }
    }
    Ok(PROFILES
        .iter()
        .filter(|p| id.is_none_or(|id| p.id == id))
        .filter(|p| match status {
            "active" => p.is_active(now),
            "inactive" => !p.is_active(now),
            _ => true,
        })
        .collect())
}

impl Profile {
    pub fn is_active(&self, now: OffsetDateTime) -> bool {
        parse(self.valid_from) <= now
    }

    fn policies(&self) -> Vec<(&'static str, &'static str)> {
        let mut p = vec![(
            "http://uri.etsi.org/19512/policy/preservation-evidence",
            PRESERVATION_POLICY,
        )];
        if self.id == BSI {
            p.push((
                "http://uri.etsi.org/19512/policy/signature-validation",
                SIGNATURE_POLICY,
            ));
        }
        p
    }

    /// The policies a request under this profile may name (`optIn.policy`).
    pub fn accepts_policy(&self, id: &str) -> bool {
        self.policies().iter().any(|(_, p)| *p == id)
    }

    /// `pres-ProfileType` (JSON).
    pub fn json(&self) -> Value {
        let ops: Vec<Value> = self
            .operations
            .iter()
            .map(|o| {
                let mut input = json!({ "name": format!("{}Request", o.name) });
                if !o.formats.is_empty() {
                    let forms: Vec<Value> = o
                        .formats
                        .iter()
                        .map(|f| {
                            if *f == DIGEST_LIST && o.name == "PreservePO" {
                                json!({ "fid": f, "format": [{ "name": "DigestMethod", "form": DIGEST_ALGORITHMS.iter().map(|a| json!({ "fid": a })).collect::<Vec<_>>() }] })
                            } else {
                                json!({ "fid": f })
                            }
                        })
                        .collect();
                    input["form"] = Value::Array(forms);
                }
                json!({
                    "name": o.name,
                    "spec": self.specification,
                    "in": [input],
                    "out": [{ "name": format!("{}Response", o.name) }],
                })
            })
            .collect();
        let mut v = json!({
            "pid": self.id,
            "spec": [self.specification],
            "description": [{ "value": self.description, "lang": "en" }],
            "op": ops,
            "pol": self.policies().iter().map(|(t, id)| json!({ "type": t, "pbref": { "polid": id } })).collect::<Vec<_>>(),
            "sid": self.scheme,
            "pvp": { "vfrom": self.valid_from },
            "psm": self.storage_model,
            "pg": self.goals.iter().map(|g| format!("http://uri.etsi.org/19512/goal/{g}")).collect::<Vec<_>>(),
            "ef": [{ "fid": RFC4998, "spec": "https://www.rfc-editor.org/rfc/rfc4998" }],
        });
        if let Some(r) = self.retention {
            v["perp"] = Value::String(r.into());
        }
        v
    }

    /// `pres:Profile` (XML, the `md` and `pres` prefixes bound by the caller).
    pub fn xml(&self, out: &mut String) {
        out.push_str("<pres:Profile>");
        leaf(out, "md:ProfileIdentifier", self.id);
        leaf(out, "md:Specification", self.specification);
        out.push_str("<md:Description xml:lang=\"en\">");
        out.push_str(&esc(self.description));
        out.push_str("</md:Description>");
        for o in self.operations {
            out.push_str("<md:Operation>");
            leaf(out, "md:Name", o.name);
            leaf(out, "md:Specification", self.specification);
            out.push_str("<md:Input>");
            leaf(out, "md:Name", &format!("{}Request", o.name));
            for f in o.formats {
                out.push_str("<md:Format>");
                leaf(out, "md:FormatID", f);
                if *f == DIGEST_LIST && o.name == "PreservePO" {
                    out.push_str("<md:Parameter>");
                    leaf(out, "md:Name", "DigestMethod");
                    for a in DIGEST_ALGORITHMS {
                        out.push_str("<md:Format>");
                        leaf(out, "md:FormatID", a);
                        out.push_str("</md:Format>");
                    }
                    out.push_str("</md:Parameter>");
                }
                out.push_str("</md:Format>");
            }
            out.push_str("</md:Input><md:Output>");
            leaf(out, "md:Name", &format!("{}Response", o.name));
            out.push_str("</md:Output></md:Operation>");
        }
        for (_, id) in self.policies() {
            out.push_str("<md:Policy><md:PolicyByRef>");
            leaf(out, "md:PolicyID", id);
            out.push_str("</md:PolicyByRef></md:Policy>");
        }
        leaf(out, "pres:SchemeIdentifier", self.scheme);
        out.push_str("<pres:ProfileValidityPeriod>");
        leaf(out, "pres:ValidFrom", self.valid_from);
        out.push_str("</pres:ProfileValidityPeriod>");
        leaf(out, "pres:PreservationStorageModel", self.storage_model);
        for g in self.goals {
            leaf(
                out,
                "pres:PreservationGoal",
                &format!("http://uri.etsi.org/19512/goal/{g}"),
            );
        }
        out.push_str("<pres:EvidenceFormat>");
        leaf(out, "md:FormatID", RFC4998);
        leaf(
            out,
            "md:Specification",
            "https://www.rfc-editor.org/rfc/rfc4998",
        );
        out.push_str("</pres:EvidenceFormat>");
        if let Some(r) = self.retention {
            leaf(out, "pres:PreservationEvidenceRetentionPeriod", r);
        }
        out.push_str("</pres:Profile>");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selection() {
        let now = parse("2026-12-06T00:00:00Z");
        assert_eq!(select(None, None, now).unwrap().len(), 2);
        assert_eq!(select(Some(HASH_ONLY), None, now).unwrap()[0].id, HASH_ONLY);
        assert!(select(None, Some("inactive"), now).unwrap().is_empty());
        assert!(select(Some("urn:x"), None, now).is_err());
        assert!(select(None, Some("maybe"), now).is_err());
        assert!(active(BSI, now).is_some());
        assert!(active(BSI, parse("2020-01-01T00:00:00Z")).is_none());
        assert!(PROFILES[0].accepts_policy(SIGNATURE_POLICY));
        assert!(!PROFILES[1].accepts_policy(SIGNATURE_POLICY));
    }
}
