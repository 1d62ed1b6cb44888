//! Versions of an archived XAIP (TR-ESOR-F 1.3 section 3.2, DXAIP;
//! TR-ESOR-E ArchiveUpdate; C.2 cases UP-01 to UP-09) and the union of an
//! archive object's versions that retrieval gives.
//!
//! An archive object is its XAIP followed by the DXAIPs that updated it,
//! each kept as submitted ([`History`]). A DXAIP brings one new version
//! manifest, the objects that are new in it, and an `updateSection`:
//!
//! ```text
//! DXAIP@XAIPVersion = XAIPType + updateSection{ prevVersion, placeHolder*@objectID }
//! ```
//!
//! `prevVersion` must name the object's latest version; each placeholder
//! stands for an object of an earlier version, which the new version's
//! pointers may name. An object the new version no longer points to is
//! deleted logically: it stays in the archive (and in the union) as part
//! of the versions that name it.
//!
//! Pure: no I/O; the caller reads the packages and passes the time.

use std::collections::{HashMap, HashSet};

use libxml::tree::Node;
use time::OffsetDateTime;

use crate::package::{ObjectKind, References, Xaip, XaipError, XAIP_NS};
use crate::submission::{escape, qualified, Refusal, VersionFacts, XAIP_VERSION};
use crate::xml;

const DS_NS: &str = "http://www.w3.org/2000/09/xmldsig#";

/// The sections of an XAIP that hold objects, in the schema's order, with
/// the attribute that carries each object's ID.
const SECTIONS: [(&str, &str, &str); 3] = [
    ("metaDataSection", "metaDataObject", "metaDataID"),
    ("dataObjectsSection", "dataObject", "dataObjectID"),
    ("credentialsSection", "credential", "credentialID"),
];

/// Why an update is refused, by the result codes of TR-ESOR-E 1.3
/// (ArchiveUpdate).
#[derive(Debug, thiserror::Error)]
pub enum UpdateRefusal {
    /// What a submission is refused for, in its `DXAIP_` form
    /// (`DXAIP_NOK`, `DXAIP_NOK_EXPIRED`, `DXAIP_NOK_SUBMTIME`).
    #[error(transparent)]
    Package(#[from] Refusal),
    /// `DXAIP_NOK_Version`: `prevVersion` is not the latest version, or
    /// the new VersionID exists already.
    #[error("{0}")]
    Version(String),
    /// `DXAIP_NOK_ID`: a placeholder for an object no earlier version
    /// holds, or a new object with the ID of an earlier one.
    #[error("{0}")]
    Id(String),
}

impl UpdateRefusal {
    fn nok(m: impl Into<String>) -> Self {
        UpdateRefusal::Package(Refusal::Nok(m.into()))
    }
}

/// An archive object's packages, oldest first: its XAIP, then each DXAIP
/// that added a version.
pub struct History {
    packages: Vec<Xaip>,
}

impl History {
    /// Embeds the files `files` holds (by URI) in every package in place
    /// of their references ([`Xaip::embed_references`]): an LXAIP's
    /// history read back as the XAIP it stands for. Returns how many
    /// references were replaced.
    pub fn embed_references(
        &self,
        files: &std::collections::HashMap<String, Vec<u8>>,
    ) -> Result<usize, XaipError> {
        let mut n = 0;
        for p in &self.packages {
            n += p.embed_references(files)?;
        }
        Ok(n)
    }

    /// The references of every package (LXAIPs and DLXAIPs).
    pub fn references(&self) -> Vec<crate::Reference> {
        self.packages.iter().flat_map(|p| p.references()).collect()
    }

    /// Reads the stored packages (they were checked when they came in).
    pub fn parse<B: AsRef<[u8]>>(packages: &[B]) -> Result<History, XaipError> {
        let packages = packages
            .iter()
            .map(|p| Xaip::parse(p.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        if packages.is_empty() {
            return Err(XaipError::NoHeader);
        }
        Ok(History { packages })
    }

    /// Every VersionID, oldest first.
    pub fn versions(&self) -> Vec<String> {
        self.packages.iter().flat_map(|p| p.versions()).collect()
    }

    /// The latest VersionID.
    pub fn latest(&self) -> Option<String> {
        self.versions().pop()
    }

    /// The package that holds the object `id` itself (not a placeholder
    /// for it), and its element.
    fn holder(&self, id: &str) -> Option<(&Xaip, Node)> {
        self.packages.iter().rev().find_map(|p| {
            let n = p.node(id)?;
            is_object(&n).then_some((p, n))
        })
    }

    /// The IDs of every object the versions hold, oldest first.
    fn object_ids(&self) -> Vec<String> {
        let mut out = vec![];
        for p in &self.packages {
            for (section, element, attr) in SECTIONS {
                if let Some(s) = xml::child(&p.root(), XAIP_NS, section) {
                    for o in xml::children(&s, XAIP_NS, element) {
                        if let Some(id) = o.get_attribute(attr) {
                            out.push(id);
                        }
                    }
                }
            }
        }
        out
    }

    /// The objects of earlier versions named by `ids`, each with the
    /// bytes TR-ESOR-ERS hashes for it, read in the package that brought
    /// it (its own canonicalisation and namespaces): what a DXAIP's
    /// placeholders stand for ([`References::earlier`]).
    ///
    /// `files` are the files the references of earlier LXAIPs stand for,
    /// by URI (an object that was a reference is hashed as its file).
    pub fn earlier<'a>(
        &self,
        ids: impl IntoIterator<Item = &'a str>,
        files: &HashMap<String, Vec<u8>>,
    ) -> Result<HashMap<String, (ObjectKind, Vec<u8>)>, XaipError> {
        let refs = References {
            files: files.clone(),
            ..Default::default()
        };
        let mut out = HashMap::new();
        for id in ids {
            let Some((p, _)) = self.holder(id) else {
                continue;
            };
            out.insert(id.to_string(), p.object_of(id, &refs)?);
        }
        Ok(out)
    }

    /// The archive object as one XAIP, as TR-ESOR-F describes a package
    /// with several versions (compare C.2's `XAIP_OK_V1_V2_V3.xml`): the
    /// first package's header with `aoid`, the manifests of `versions`
    /// (`None`: all) in order, and the objects they name, each written as
    /// the package that brought it had it. With every version, every
    /// object of every package is in it (a logically deleted one too).
    ///
    /// Each object element is serialised again by libxml2 (the text of a
    /// package is not kept by the parser): its canonical form, which is
    /// what evidence records hash, stays the same as long as the packages
    /// bind their namespace prefixes alike on their roots. A package that
    /// binds a prefix the first one binds otherwise is refused here.
    pub fn union(&self, aoid: &str, versions: Option<&[String]>) -> Result<Vec<u8>, XaipError> {
        let first = &self.packages[0];
        let root = first.root();
        let prefix = root.get_namespace().map(|n| n.get_prefix());
        let q = |local: &str| qualified(prefix.as_deref(), local);
        // the namespaces of every package's root, the first's first
        let mut bound: Vec<(String, String)> = vec![];
        for p in &self.packages {
            for ns in p.root().get_namespace_declarations() {
                let (pre, href) = (ns.get_prefix(), ns.get_href());
                match bound.iter().find(|(bp, _)| *bp == pre) {
                    Some((_, h)) if *h != href => {
                        return Err(XaipError::Object {
                            id: "XAIP".into(),
                            what: format!(
                                "the versions bind the prefix {pre:?} to different namespaces ({h} and {href}); they cannot be written as one package"
                            ),
                        })
                    }
                    Some(_) => {}
                    None => bound.push((pre, href)),
                }
            }
        }
        // the manifests asked for, and the objects they name
        let mut manifests: Vec<(&Xaip, Node)> = vec![];
        for p in &self.packages {
            for m in xml::children(p.header(), XAIP_NS, "versionManifest") {
                let id = m.get_attribute("VersionID").unwrap_or_default();
                if versions.is_none_or(|v| v.contains(&id)) {
                    manifests.push((p, m));
                }
            }
        }
        if let Some(v) = versions {
            if let Some(missing) = v.iter().find(|v| {
                !manifests
                    .iter()
                    .any(|(_, m)| m.get_attribute("VersionID").as_ref() == Some(v))
            }) {
                return Err(XaipError::UnknownVersion {
                    wanted: missing.clone(),
                    have: self.versions().join(", "),
                });
            }
        }
        let wanted: Option<HashSet<String>> = versions.map(|v| {
            let mut ids: HashSet<String> = v.iter().cloned().collect();
            for (_, m) in &manifests {
                pointers(m, &mut ids);
            }
            // what is related to a version or an object in it: the
            // signatures over an object, a version's evidence records
            for id in self.object_ids() {
                if let Some((_, n)) = self.holder(&id) {
                    let related = n.get_attribute("relatedObjects").unwrap_or_default();
                    if related
                        .split_whitespace()
                        .any(|r| v.iter().any(|x| x == r) || ids.contains(r))
                        && xml::is(&n, XAIP_NS, "credential")
                    {
                        ids.insert(id);
                    }
                }
            }
            ids
        });

        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        out.push_str(&format!("<{} XAIPVersion=\"{XAIP_VERSION}\"", q("XAIP")));
        for (pre, href) in &bound {
            if pre.is_empty() {
                out.push_str(&format!(" xmlns=\"{}\"", escape(href)));
            } else {
                out.push_str(&format!(" xmlns:{pre}=\"{}\"", escape(href)));
            }
        }
        out.push('>');
        let header = first.header();
        out.push_str(&format!(
            "<{} packageID=\"{}\">",
            q("packageHeader"),
            escape(&header.get_attribute("packageID").unwrap_or_default())
        ));
        out.push_str(&format!("<{0}>{1}</{0}>", q("AOID"), escape(aoid)));
        if let Some(info) = xml::child(header, XAIP_NS, "packageInfo") {
            out.push_str(&first.doc().node_to_string(&info));
        }
        for (p, m) in &manifests {
            out.push_str(&p.doc().node_to_string(m));
        }
        // the canonicalisation is the package's, named by its first header
        if let Some(c) = xml::child(header, DS_NS, "CanonicalizationMethod") {
            out.push_str(&first.doc().node_to_string(&c));
        }
        if let Some(e) = xml::child(header, XAIP_NS, "extension") {
            out.push_str(&first.doc().node_to_string(&e));
        }
        out.push_str(&format!("</{}>", q("packageHeader")));
        for (section, element, attr) in SECTIONS {
            let mut body = String::new();
            for p in &self.packages {
                let Some(s) = xml::child(&p.root(), XAIP_NS, section) else {
                    continue;
                };
                for o in xml::children(&s, XAIP_NS, element) {
                    let id = o.get_attribute(attr).unwrap_or_default();
                    if wanted.as_ref().is_none_or(|w| w.contains(&id)) {
                        body.push_str(&p.doc().node_to_string(&o));
                    }
                }
            }
            if !body.is_empty() {
                out.push_str(&format!("<{}>{body}</{}>", q(section), q(section)));
            }
        }
        out.push_str(&format!("</{}>\n", q("XAIP")));
        Ok(out.into_bytes())
    }
}

/// The `packageUnitID`s of every package information unit of a header's
/// manifests, nested ones included.
fn unit_ids(header: &Node) -> Vec<String> {
    fn walk(n: &Node, out: &mut Vec<String>) {
        for c in n.get_child_elements() {
            if xml::is(&c, XAIP_NS, "packageInfoUnit") {
                if let Some(id) = c.get_attribute("packageUnitID") {
                    out.push(id);
                }
                walk(&c, out);
            }
        }
    }
    let mut out = vec![];
    for m in xml::children(header, XAIP_NS, "versionManifest") {
        walk(&m, &mut out);
    }
    out
}

/// Whether `n` is an object of a section (not a placeholder, manifest or
/// unit).
fn is_object(n: &Node) -> bool {
    SECTIONS
        .iter()
        .any(|(_, element, _)| xml::is(n, XAIP_NS, element))
}

/// Every ID a manifest points to (protected and unprotected, nested units
/// included).
fn pointers(unit: &Node, out: &mut HashSet<String>) {
    for c in unit.get_child_elements() {
        if xml::is(&c, XAIP_NS, "protectedObjectPointer")
            || xml::is(&c, XAIP_NS, "unprotectedObjectPointer")
        {
            out.insert(c.get_content().trim().to_string());
        } else if xml::is(&c, XAIP_NS, "packageInfoUnit") {
            pointers(&c, out);
        }
    }
}

impl Xaip {
    /// `updateSection/prevVersion` of a DXAIP.
    pub fn prev_version(&self) -> Option<String> {
        let u = xml::child(&self.root(), XAIP_NS, "updateSection")?;
        xml::child(&u, XAIP_NS, "prevVersion").map(|p| p.get_content().trim().to_string())
    }

    /// The IDs the placeholders of a DXAIP stand for.
    pub fn placeholders(&self) -> Vec<String> {
        xml::child(&self.root(), XAIP_NS, "updateSection")
            .map(|u| {
                xml::children(&u, XAIP_NS, "placeHolder")
                    .filter_map(|p| p.get_attribute("objectID"))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The checks of an update (ArchiveUpdate) of the archive object whose
    /// packages are `history`, in the order C.2 expects them reported:
    /// a DXAIP of `XAIPVersion` 1.3.0 with one version, `prevVersion` the
    /// latest version and a VersionID not used yet, the retention period
    /// not over, the submission time within `tolerance` of `now`, every
    /// placeholder standing for an object of an earlier version and no new
    /// object reusing an earlier one's ID. (That the AOID names the object
    /// is the archive's check: it found `history` by it.)
    pub fn check_update(
        &self,
        history: &History,
        now: OffsetDateTime,
        tolerance: time::Duration,
    ) -> Result<VersionFacts, UpdateRefusal> {
        if !xml::is(&self.root(), XAIP_NS, "DXAIP") {
            return Err(UpdateRefusal::nok(
                "an update carries an xaip:DXAIP (a new archive object is an ArchiveSubmission)",
            ));
        }
        match self.xaip_version() {
            Some(v) if v == XAIP_VERSION => {}
            other => {
                return Err(UpdateRefusal::nok(format!(
                    "XAIPVersion is {:?}; this archive takes TR-ESOR-F {XAIP_VERSION}",
                    other.unwrap_or_default()
                )))
            }
        }
        let mut facts = self
            .version_facts()
            .map_err(|r| UpdateRefusal::nok(r.to_string()))?;
        if facts.len() != 1 {
            return Err(UpdateRefusal::nok(format!(
                "the DXAIP has {} version manifests; an update adds exactly one version",
                facts.len()
            )));
        }
        let v = facts.remove(0);
        let latest = history.latest().unwrap_or_default();
        let prev = self.prev_version().unwrap_or_default();
        if prev != latest {
            return Err(UpdateRefusal::Version(format!(
                "prevVersion is {prev:?}, but the latest version of the archive object is {latest:?}"
            )));
        }
        if history.versions().contains(&v.id) {
            return Err(UpdateRefusal::Version(format!(
                "the archive object has a version {:?} already",
                v.id
            )));
        }
        v.check_times(now, tolerance)?;
        for id in self.placeholders() {
            if history.holder(&id).is_none() {
                return Err(UpdateRefusal::Id(format!(
                    "the placeholder {id:?} stands for no object of an earlier version"
                )));
            }
        }
        let earlier: HashSet<String> = history.object_ids().into_iter().collect();
        for (section, element, attr) in SECTIONS {
            let Some(s) = xml::child(&self.root(), XAIP_NS, section) else {
                continue;
            };
            for o in xml::children(&s, XAIP_NS, element) {
                let id = o.get_attribute(attr).unwrap_or_default();
                if earlier.contains(&id) {
                    return Err(UpdateRefusal::Id(format!(
                        "the new object {id:?} has the ID of an object of an earlier version; name that one by a placeholder, give a new one a new ID"
                    )));
                }
            }
        }
        // the package information units too: the versions are given back
        // as one package, in which every xs:ID is unique (C.2's
        // DLXAIP_OK_2_UP_01a_004 reuses V002's PKDIUID-02)
        let earlier_units: HashSet<String> = history
            .packages
            .iter()
            .flat_map(|p| unit_ids(p.header()))
            .collect();
        if let Some(id) = unit_ids(self.header())
            .into_iter()
            .find(|u| earlier_units.contains(u))
        {
            return Err(UpdateRefusal::Id(format!(
                "the packageInfoUnit {id:?} has the ID of a unit of an earlier version; the versions are one package, whose IDs are unique: give the unit a new ID"
            )));
        }
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::c2;

    fn now() -> OffsetDateTime {
        time::macros::datetime!(2026-12-06 12:00 UTC)
    }

    #[test]
    fn a_dxaip_adds_a_version_whose_placeholders_are_the_earlier_objects() {
        let (Some(v1), Some(d2), Some(d3)) =
            (c2("XAIP_OK.xml"), c2("DXAIP_OK.xml"), c2("DXAIP_OK_2.xml"))
        else {
            eprintln!("the C.2 data is not beside the project: skipped");
            return;
        };
        let tolerance = time::Duration::days(3650 * 3);
        let h1 = History::parse(&[&v1]).unwrap();
        let d = Xaip::parse(&d2).unwrap();
        let facts = d.check_update(&h1, now(), tolerance).unwrap();
        assert_eq!(facts.id, "V002");
        let refs = References {
            earlier: h1
                .earlier(d.placeholders().iter().map(String::as_str), &HashMap::new())
                .unwrap(),
            ..Default::default()
        };
        let objs = d.protected_objects("V002", &refs).unwrap();
        let ids: Vec<&str> = objs.iter().map(|o| o.id.as_str()).collect();
        assert_eq!(ids, ["DO-01", "MDO-01", "DO-02", "CR-01"]);
        // the placeholders' bytes are those V001 hashes for the objects
        let v1x = Xaip::parse(&v1).unwrap();
        let old = v1x
            .protected_objects("V001", &References::default())
            .unwrap();
        for o in &old {
            let new = objs.iter().find(|n| n.id == o.id).unwrap();
            assert_eq!(new.bytes, o.bytes, "{}", o.id);
        }
        // a DXAIP that does not follow the latest version
        let h2 = History::parse(&[&v1, &d2]).unwrap();
        assert!(matches!(
            d.check_update(&h2, now(), tolerance),
            Err(UpdateRefusal::Version(_))
        ));
        let d3x = Xaip::parse(&d3).unwrap();
        assert!(matches!(
            d3x.check_update(&h1, now(), tolerance),
            Err(UpdateRefusal::Version(_))
        ));
        assert_eq!(d3x.check_update(&h2, now(), tolerance).unwrap().id, "V003");

        // the union of the three versions: every manifest, every object,
        // and each version's protected objects as its own package had them
        let h3 = History::parse(&[&v1, &d2, &d3]).unwrap();
        let union = h3.union("AOID-1", None).unwrap();
        let u = Xaip::parse_valid(&union).unwrap();
        assert_eq!(u.versions(), ["V001", "V002", "V003"]);
        assert_eq!(u.aoid().as_deref(), Some("AOID-1"));
        for (pkg, v) in [(&v1x, "V001"), (&d, "V002")] {
            let r = if v == "V001" {
                References::default()
            } else {
                refs.clone()
            };
            let mine = pkg.protected_objects(v, &r).unwrap();
            let theirs = u.protected_objects(v, &References::default()).unwrap();
            assert_eq!(mine.len(), theirs.len());
            for (a, b) in mine.iter().zip(&theirs) {
                assert_eq!((&a.id, &a.bytes), (&b.id, &b.bytes), "{v}");
            }
        }
        // one version: its manifest and only what it names
        let one = h3.union("AOID-1", Some(&["V003".to_string()])).unwrap();
        let o = Xaip::parse_valid(&one).unwrap();
        assert_eq!(o.versions(), ["V003"]);
        assert!(o.node("DO-02").is_none(), "V003 dropped DO-02");
        assert!(
            h3.union("AOID-1", Some(&["V009".to_string()])).is_err(),
            "an unknown version"
        );
    }

    #[test]
    fn placeholders_must_stand_for_earlier_objects_and_new_ids_be_new() {
        let Some(v1) = c2("XAIP_OK.xml") else {
            return;
        };
        let h = History::parse(&[&v1]).unwrap();
        let tolerance = time::Duration::days(3650 * 3);
        let dx = |body: &str, holders: &str| {
            format!(
                r#"<xaip:DXAIP XAIPVersion="1.3.0" xmlns:xaip="http://www.bsi.bund.de/tr-esor/xaip"><xaip:packageHeader packageID="P"><xaip:AOID>A</xaip:AOID><xaip:versionManifest VersionID="V002"><xaip:preservationInfo><xaip:retentionPeriod>2100-01-01</xaip:retentionPeriod></xaip:preservationInfo><xaip:packageInfoUnit packageUnitID="U"><xaip:protectedObjectPointer>DO-01</xaip:protectedObjectPointer></xaip:packageInfoUnit></xaip:versionManifest></xaip:packageHeader>{body}<xaip:updateSection><xaip:prevVersion>V001</xaip:prevVersion>{holders}</xaip:updateSection></xaip:DXAIP>"#
            )
        };
        let ok = dx("", r#"<xaip:placeHolder objectID="DO-01"/>"#);
        assert!(Xaip::parse(ok.as_bytes())
            .unwrap()
            .check_update(&h, now(), tolerance)
            .is_ok());
        let ghost = dx(
            "",
            r#"<xaip:placeHolder objectID="DO-01"/><xaip:placeHolder objectID="DO-77"/>"#,
        );
        assert!(matches!(
            Xaip::parse(ghost.as_bytes())
                .unwrap()
                .check_update(&h, now(), tolerance),
            Err(UpdateRefusal::Id(_))
        ));
        let reused = dx(
            r#"<xaip:dataObjectsSection><xaip:dataObject dataObjectID="DO-02"><xaip:binaryData>QQ==</xaip:binaryData></xaip:dataObject></xaip:dataObjectsSection>"#,
            r#"<xaip:placeHolder objectID="DO-01"/>"#,
        );
        assert!(matches!(
            Xaip::parse(reused.as_bytes())
                .unwrap()
                .check_update(&h, now(), tolerance),
            Err(UpdateRefusal::Id(_))
        ));
        let expired = ok.replace("2100-01-01", "2020-01-01");
        assert!(matches!(
            Xaip::parse(expired.as_bytes())
                .unwrap()
                .check_update(&h, now(), tolerance),
            Err(UpdateRefusal::Package(Refusal::Expired(_)))
        ));
    }
}
