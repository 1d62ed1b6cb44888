//! The preservation profiles RetrieveInfo answers with (`pres:Profile`,
//! ETSI TS 119 512 as BSI profiles it for TR-ESOR 1.3): what the
//! interface offers, under identifiers and validity periods that do not
//! change between restarts.

use time::OffsetDateTime;

use super::codes::{Minor, Outcome};
use super::respond::{esc, leaf};

/// One preservation profile.
#[derive(Debug)]
pub struct Profile {
    pub id: &'static str,
    pub description: &'static str,
    /// RFC 3339, UTC.
    pub valid_from: &'static str,
    pub valid_until: Option<&'static str>,
    /// The S.4 operations offered under it.
    pub operations: &'static [&'static str],
}

/// The profile of this interface (C.2's `URI_PROFILE_V1.3_S.4_V1.0`),
/// and the earlier one C.2 expects to find inactive.
pub const PROFILES: &[Profile] = &[
    Profile {
        id: "http://www.bsi.bund.de/tr-esor/V1.3/profile/S.4/v1.0",
        description: "bewahr: the TR-ESOR 1.3 S.4 interface (BSI TR-03125 Annex E)",
        valid_from: "2026-01-01T00:00:00Z",
        valid_until: None,
        operations: &[
            "RetrieveInfo",
            "ArchiveSubmission",
            "ArchiveUpdate",
            "ArchiveRetrieval",
            "ArchiveEvidence",
            "ArchiveDeletion",
            "ArchiveData",
            "Verify",
            "ArchiveTrace",
        ],
    },
    Profile {
        id: "http://www.bsi.bund.de/tr-esor/V1.3/profile/S.4/V0.5",
        description: "bewahr: a draft of the S.4 interface, no longer offered",
        valid_from: "2025-01-01T00:00:00Z",
        valid_until: Some("2026-01-01T00:00:00Z"),
        operations: &["RetrieveInfo"],
    },
];

const TR_E: &str = "https://www.bsi.bund.de/SharedDocs/Downloads/DE/BSI/Publikationen/TechnischeRichtlinien/TR03125/BSI_TR_03125_Anlage_E_V1_3.pdf";

fn parse(t: &str) -> OffsetDateTime {
    OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
        .expect("the profiles' dates are RFC 3339")
}

impl Profile {
    pub fn is_active(&self, now: OffsetDateTime) -> bool {
        parse(self.valid_from) <= now && self.valid_until.is_none_or(|u| now < parse(u))
    }

    /// `pres:Profile`.
    pub fn write(&self, out: &mut String) {
        out.push_str("<pres:Profile>");
        leaf(out, "md:ProfileIdentifier", self.id);
        leaf(out, "md:Specification", TR_E);
        out.push_str("<md:Description xml:lang=\"en\">");
        out.push_str(&esc(self.description));
        out.push_str("</md:Description>");
        for op in self.operations {
            out.push_str("<md:Operation>");
            leaf(out, "md:Name", op);
            leaf(out, "md:Specification", TR_E);
            out.push_str("</md:Operation>");
        }
        leaf(
            out,
            "pres:SchemeIdentifier",
            "http://uri.etsi.org/19512/scheme/pds+pgd+aug+wst+ers",
        );
        out.push_str("<pres:ProfileValidityPeriod>");
        leaf(out, "pres:ValidFrom", self.valid_from);
        if let Some(u) = self.valid_until {
            leaf(out, "pres:ValidUntil", u);
        }
        out.push_str("</pres:ProfileValidityPeriod>");
        leaf(out, "pres:PreservationStorageModel", "WithStorage");
        for g in ["pds", "pgd", "aug"] {
            leaf(
                out,
                "pres:PreservationGoal",
                &format!("http://uri.etsi.org/19512/goal/{g}"),
            );
        }
        out.push_str("<pres:EvidenceFormat>");
        leaf(out, "md:FormatID", "urn:ietf:rfc:4998");
        leaf(
            out,
            "md:Specification",
            "https://www.rfc-editor.org/rfc/rfc4998",
        );
        out.push_str("</pres:EvidenceFormat>");
        out.push_str("</pres:Profile>");
    }
}

/// The profiles RetrieveInfo answers with: by identifier (unknown:
/// `unknownURI`) and status (`active`, `inactive`, `all`). Without a
/// status, an identifier selects its profile whatever its state, and no
/// identifier selects the active ones.
pub fn select(
    id: Option<&str>,
    status: Option<&str>,
    now: OffsetDateTime,
) -> Result<Vec<&'static Profile>, Outcome> {
    let status = status.unwrap_or(if id.is_some() { "all" } else { "active" });
    let by_id: Vec<&Profile> = match id {
        Some(id) => {
            let found: Vec<&Profile> = PROFILES.iter().filter(|p| p.id == id).collect();
            if found.is_empty() {
                return Err(Outcome::error(
                    Minor::UnknownUri,
                    format!("no preservation profile is called {id}"),
                ));
            }
            found
        }
        None => PROFILES.iter().collect(),
    };
    Ok(by_id
        .into_iter()
        .filter(|p| match status {
            "active" => p.is_active(now),
            "inactive" => !p.is_active(now),
            _ => true,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selection_follows_c2_m_ri_01_and_02() {
        let now = parse("2026-12-05T00:00:00Z");
        let ids = |v: Vec<&Profile>| v.iter().map(|p| p.id).collect::<Vec<_>>();
        let (active, inactive) = (PROFILES[0].id, PROFILES[1].id);
        assert_eq!(ids(select(Some(active), None, now).unwrap()), [active]);
        assert_eq!(
            ids(select(None, Some("inactive"), now).unwrap()),
            [inactive]
        );
        assert_eq!(
            ids(select(None, Some("all"), now).unwrap()),
            [active, inactive]
        );
        assert_eq!(ids(select(None, Some("active"), now).unwrap()), [active]);
        assert!(select(Some(active), Some("inactive"), now)
            .unwrap()
            .is_empty());
        assert_eq!(ids(select(None, None, now).unwrap()), [active]);
        let e = select(
            Some("http://www.bsi.bund.de/tr-esor/V1.3000/profile/S.4/V1.0"),
            None,
            now,
        )
        .unwrap_err();
        assert_eq!(e.minor, Some(Minor::UnknownUri));
    }
}
