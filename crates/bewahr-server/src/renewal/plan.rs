//! The renewal plan: which chains need which renewal by when. Pure: the
//! trees' links, facts about their time-stamps, the algorithm catalogue and
//! the time come in as parameters.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use time::OffsetDateTime;

use crate::catalog::{TreeKind, TreeLink};
use bewahr_core::alg::DigestAlgorithm;
use bewahr_core::tsp::trust::rfc3339;
use bewahr_core::verify::{AlgorithmPolicy, SignatureFamily};

/// A chain that can still be extended: its first tree and its last.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CurrentChain {
    pub start: i64,
    pub tail: i64,
    /// The renewal runs that wrote the chain's first and last tree.
    pub start_run: Option<i64>,
    pub tail_run: Option<i64>,
    pub digest_algorithm: String,
    /// Object versions whose evidence the chain carries.
    pub versions: i64,
    /// Empty: every leaf of the first tree. Otherwise the chain is open only
    /// for these held leaves (a hash-tree renewal closed it for the others
    /// but could not rehash these): version seqs, or -(batch id) for audit heads.
    pub held: Vec<i64>,
}

/// The chains that can still be extended: those whose first tree has not
/// been superseded by a hash-tree renewal, each walked to its last tree;
/// and, for the leaves a hash-tree renewal could not rehash (`held`:
/// (leaf key, chain start), still open), their chain walked past the
/// `chain_end` it has for the others.
pub fn current_chains(
    links: &[TreeLink],
    held: &[(i64, i64)],
) -> Result<Vec<CurrentChain>, String> {
    let by_id: HashMap<i64, &TreeLink> = links.iter().map(|l| (l.id, l)).collect();
    let tail = |l: &TreeLink| -> Result<i64, String> {
        let mut cur = l;
        let mut hops = 0;
        while let Some(next) = cur.renewed_by {
            cur = by_id
                .get(&next)
                .ok_or_else(|| format!("tree {} is renewed by {next}, which is missing", cur.id))?;
            hops += 1;
            if hops > 10_000 {
                return Err(format!("the chain of tree {} loops", l.id));
            }
        }
        Ok(cur.id)
    };
    let run_of = |id: i64| by_id.get(&id).and_then(|l| l.run_id);
    let mut out = Vec::new();
    for l in links {
        if l.kind == TreeKind::Timestamp || l.rehashed_by.is_some() {
            continue;
        }
        let t = tail(l)?;
        out.push(CurrentChain {
            start: l.id,
            tail: t,
            start_run: l.run_id,
            tail_run: run_of(t),
            digest_algorithm: l.digest_algorithm.clone(),
            versions: l.versions,
            held: Vec::new(),
        });
    }
    let mut by_start: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for &(key, start) in held {
        by_start.entry(start).or_default().push(key);
    }
    for (start, keys) in by_start {
        let l = by_id
            .get(&start)
            .ok_or_else(|| format!("held leaves on tree {start}, which is missing"))?;
        if l.rehashed_by.is_none() {
            continue; // the chain is open for all its leaves anyway
        }
        let t = tail(l)?;
        out.push(CurrentChain {
            start,
            tail: t,
            start_run: l.run_id,
            tail_run: run_of(t),
            digest_algorithm: l.digest_algorithm.clone(),
            versions: keys.iter().filter(|k| **k > 0).count() as i64,
            held: keys,
        });
    }
    Ok(out)
}

/// What renewal needs to know of a time-stamp (from checking its token).
#[derive(Clone, Debug)]
pub struct TokenFacts {
    pub gen_time: OffsetDateTime,
    pub tsa: String,
    /// The TSA certificate's end.
    pub not_after: OffsetDateTime,
    pub family: SignatureFamily,
    pub bits: usize,
    pub signature_algorithm: String,
    /// The hashes inside the token's signature and inside the signature on
    /// the TSA certificate: the catalogue rates them like the tree's hash.
    pub signature_digests: Vec<DigestAlgorithm>,
}

/// One line of the plan: a group of chains that need the same renewal by
/// the same date for the same reason.
#[derive(Clone, Debug, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct PlanEntry {
    /// `timestamp` or `hashtree`.
    pub kind: String,
    /// `scheduled` (due later), `due` (to be done now), `blocked` (due, but
    /// the last time-stamp is itself that recent: a TSA with a longer-lived
    /// certificate or key is needed) or `overdue` (past the deadline: the
    /// chains can no longer be extended by this renewal).
    pub state: String,
    /// When the renewal falls due: the deadline minus the safety margin (RFC 3339).
    pub due: String,
    /// When the protection ends (RFC 3339).
    pub deadline: String,
    /// The chains' digest algorithm.
    pub digest_algorithm: String,
    /// Hash-tree renewal: the algorithm of the new chains.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_digest_algorithm: Option<String>,
    pub reason: String,
    /// Chain ends (time-stamp renewal) or chain starts (hash-tree renewal).
    pub trees: i64,
    /// Object versions affected.
    pub chains: i64,
    #[serde(skip)]
    pub tree_ids: Vec<i64>,
    #[serde(skip)]
    pub due_at: Option<OffsetDateTime>,
}

/// The renewal plan.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Plan {
    pub computed_at: String,
    /// The algorithm catalogue's name and version.
    pub catalogue: String,
    pub margin_days: i64,
    /// The digest algorithm hash-tree renewals move to.
    pub hash_algorithm: String,
    /// Current chains and the object versions they carry.
    pub current_chains: i64,
    pub chains: i64,
    /// Soonest first.
    pub entries: Vec<PlanEntry>,
    /// What the planner could not judge (e.g. an unreadable time-stamp).
    pub problems: Vec<String>,
}

impl Plan {
    /// Entries whose time has come: due, or overdue (a run reports what it cannot renew).
    pub fn due(&self) -> impl Iterator<Item = &PlanEntry> {
        self.entries
            .iter()
            .filter(|e| e.state == "due" || e.state == "overdue")
    }
}

/// Computes the plan at `now`.
pub fn plan(
    chains: &[CurrentChain],
    facts: &HashMap<i64, Result<TokenFacts, String>>,
    policy: &AlgorithmPolicy,
    now: OffsetDateTime,
    margin: time::Duration,
    hash_algorithm: DigestAlgorithm,
) -> Plan {
    let mut problems = Vec::new();
    // key: (kind, deadline, alg, reason, blocked)
    type Key = (String, Option<OffsetDateTime>, String, String, bool);
    let mut groups: BTreeMap<Key, (i64, i64, Vec<i64>)> = BTreeMap::new();
    let mut add = |key: Key, tree: i64, versions: i64| {
        let g = groups.entry(key).or_default();
        g.0 += 1;
        g.1 += versions;
        g.2.push(tree);
    };
    let mut by_tail: BTreeMap<i64, Vec<&CurrentChain>> = BTreeMap::new();
    for c in chains {
        by_tail.entry(c.tail).or_default().push(c);
    }
    let target_end = policy.hash_end(hash_algorithm);
    match target_end {
        Err(_) => problems.push(format!(
            "renewal.hash_algorithm {hash_algorithm} is not in the algorithm catalogue"
        )),
        Ok(Some(end)) if end <= now + margin => problems.push(format!(
            "renewal.hash_algorithm {hash_algorithm} is itself suitable only until {}",
            rfc3339(end)
        )),
        _ => {}
    }
    for (tail, cs) in &by_tail {
        let alg_name = cs[0].digest_algorithm.clone();
        let versions: i64 = cs.iter().map(|c| c.versions).sum();
        let hash_end = match DigestAlgorithm::from_name(&alg_name) {
            Ok(a) => policy
                .hash_end(a)
                .map_err(|_| format!("{a} is not in the catalogue")),
            Err(e) => Err(e.to_string()),
        };
        let f = match facts.get(tail) {
            Some(Ok(f)) => f,
            Some(Err(e)) => {
                problems.push(format!("tree {tail}: its time-stamp cannot be judged: {e}"));
                continue;
            }
            None => {
                problems.push(format!("tree {tail}: no facts about its time-stamp"));
                continue;
            }
        };
        let (sig_end, sig_reason) = match policy.signature_end(f.family, f.bits) {
            Ok(end) => (
                end,
                format!(
                    "{} ({} bits) is suitable until",
                    f.signature_algorithm, f.bits
                ),
            ),
            Err(_) => (
                Some(OffsetDateTime::UNIX_EPOCH),
                format!(
                    "{} ({} bits) is not rated by the catalogue; unsuitable since",
                    f.signature_algorithm, f.bits
                ),
            ),
        };
        // a hash inside the signatures that ends earlier than the key size does
        let (sig_end, sig_reason) =
            f.signature_digests
                .iter()
                .fold((sig_end, sig_reason), |(end, reason), d| {
                    let d_end = policy
                        .hash_end(*d)
                        .unwrap_or(Some(OffsetDateTime::UNIX_EPOCH));
                    match d_end {
                        Some(e) if end.is_none_or(|x| e < x) => (
                            Some(e),
                            format!(
                                "{d}, the hash in the signatures of TSA {}, is suitable until",
                                f.tsa
                            ),
                        ),
                        _ => (end, reason),
                    }
                });
        let (ts_end, ts_reason) = if sig_end.is_some_and(|s| s < f.not_after) {
            (sig_end, sig_reason)
        } else {
            (
                Some(f.not_after),
                format!("the certificate of TSA {} ends", f.tsa),
            )
        };
        let hash_first = match &hash_end {
            Ok(Some(h)) => ts_end.is_none_or(|t| *h <= t),
            Ok(None) => false,
            Err(_) => true,
        };
        if hash_first {
            let (deadline, reason) = match &hash_end {
                Ok(Some(h)) => (Some(*h), format!("{alg_name} is suitable until")),
                Err(e) => (Some(OffsetDateTime::UNIX_EPOCH), e.clone()),
                Ok(None) => unreachable!(),
            };
            for c in cs {
                add(
                    (
                        "hashtree".into(),
                        deadline,
                        alg_name.clone(),
                        reason.clone(),
                        false,
                    ),
                    c.start,
                    c.versions,
                );
            }
        } else if let Some(end) = ts_end {
            // the hash algorithm's end comes later: shown too, so admins see it coming
            if let Ok(Some(h)) = &hash_end {
                for c in cs {
                    add(
                        (
                            "hashtree".into(),
                            Some(*h),
                            alg_name.clone(),
                            format!("{alg_name} is suitable until"),
                            false,
                        ),
                        c.start,
                        c.versions,
                    );
                }
            }
            // made within its own margin: renewing with the same TSA gains nothing
            let blocked = f.gen_time >= end - margin;
            add(
                (
                    "timestamp".into(),
                    Some(end),
                    alg_name.clone(),
                    ts_reason,
                    blocked,
                ),
                *tail,
                versions,
            );
        }
    }
    let mut entries: Vec<PlanEntry> = groups
        .into_iter()
        .map(|((kind, deadline, alg, reason, blocked), (trees, versions, ids))| {
            let due_at = deadline.map(|d| d - margin);
            let state = match (deadline, due_at) {
                (Some(d), _) if d <= now => "overdue",
                (_, Some(due)) if due <= now && blocked => "blocked",
                (_, Some(due)) if due <= now => "due",
                _ => "scheduled",
            };
            let deadline_s = deadline.map(rfc3339).unwrap_or_default();
            let mut reason = if deadline == Some(OffsetDateTime::UNIX_EPOCH) {
                reason
            } else {
                format!("{reason} {deadline_s}")
            };
            if state == "blocked" {
                reason.push_str("; the last time-stamp was already made within the margin, so renewing with the same TSA gains nothing: configure a TSA whose certificate and key last longer");
            }
            PlanEntry {
                target_digest_algorithm: (kind == "hashtree").then(|| hash_algorithm.to_string()),
                kind,
                state: state.into(),
                due: due_at.map(rfc3339).unwrap_or_default(),
                deadline: deadline_s.clone(),
                digest_algorithm: alg,
                reason,
                trees,
                chains: versions,
                tree_ids: ids,
                due_at,
            }
        })
        .collect();
    entries.sort_by_key(|e| e.due_at);
    Plan {
        computed_at: rfc3339(now),
        catalogue: format!("{} {}", policy.name, policy.version),
        margin_days: margin.whole_days(),
        hash_algorithm: hash_algorithm.to_string(),
        current_chains: chains.len() as i64,
        chains: chains.iter().map(|c| c.versions).sum(),
        entries,
        problems,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn link(id: i64, kind: TreeKind, alg: &str, renewed_by: Option<i64>) -> TreeLink {
        TreeLink {
            id,
            kind,
            digest_algorithm: alg.into(),
            leaves: 10,
            gen_time_ms: 0,
            renewed_by,
            rehashed_by: None,
            chain_end: None,
            run_id: None,
            versions: 10,
            held: 0,
        }
    }

    fn facts(not_after: OffsetDateTime, bits: usize) -> Result<TokenFacts, String> {
        Ok(TokenFacts {
            gen_time: datetime!(2026-01-01 0:00 UTC),
            tsa: "CN=TSA".into(),
            not_after,
            family: SignatureFamily::Rsa,
            bits,
            signature_algorithm: format!("rsa{bits}"),
            signature_digests: vec![DigestAlgorithm::Sha256],
        })
    }

    #[test]
    fn chains_are_walked_to_their_ends_and_closed_chains_left_out() {
        let mut a = link(1, TreeKind::Initial, "sha256", Some(100));
        let b = link(2, TreeKind::Initial, "sha256", Some(100));
        let r = link(100, TreeKind::Timestamp, "sha256", Some(101));
        let r2 = link(101, TreeKind::Timestamp, "sha256", None);
        let h = link(102, TreeKind::Hashtree, "sha512", None);
        a.rehashed_by = Some(102);
        a.chain_end = Some(100);
        let c = current_chains(&[a, b, r, r2, h], &[]).unwrap();
        assert_eq!(
            c.iter().map(|c| (c.start, c.tail)).collect::<Vec<_>>(),
            vec![(2, 101), (102, 102)]
        );
    }

    #[test]
    fn held_leaves_keep_their_chain_open_past_its_end() {
        let mut a = link(1, TreeKind::Initial, "sha256", Some(100));
        a.rehashed_by = Some(102);
        a.chain_end = Some(100);
        let r = link(100, TreeKind::Timestamp, "sha256", Some(101));
        let r2 = link(101, TreeKind::Timestamp, "sha256", None);
        let h = link(102, TreeKind::Hashtree, "sha512", None);
        // version 7 and the audit head of batch 1 were not rehashed by 102;
        // 101 renewed their chain after it closed for the others
        let c = current_chains(&[a, r, r2, h], &[(7, 1), (-1, 1)]).unwrap();
        assert_eq!(
            c.iter()
                .map(|c| (c.start, c.tail, c.versions, c.held.clone()))
                .collect::<Vec<_>>(),
            vec![(102, 102, 10, vec![]), (1, 101, 1, vec![7, -1])]
        );
    }

    #[test]
    fn the_earliest_end_decides_the_kind_and_the_margin_the_date() {
        let policy = AlgorithmPolicy::from_toml(
            "[catalogue]\nname = \"t\"\nversion = \"1\"\n\
             [[hash]]\nname = \"sha256\"\nuntil = \"2040-01-01\"\nsource = \"x\"\n\
             [[hash]]\nname = \"sha512\"\nuntil = \"open\"\nsource = \"x\"\n\
             [[signature]]\nalgorithm = \"rsa\"\nmin_bits = 2048\nuntil = \"2030-01-01\"\nsource = \"x\"\n\
             [[signature]]\nalgorithm = \"rsa\"\nmin_bits = 3000\nuntil = \"open\"\nsource = \"x\"\n",
        )
        .unwrap();
        let chains = vec![
            CurrentChain {
                start: 1,
                tail: 1,
                start_run: None,
                tail_run: None,
                digest_algorithm: "sha256".into(),
                versions: 5,
                held: vec![],
            },
            CurrentChain {
                start: 2,
                tail: 2,
                start_run: None,
                tail_run: None,
                digest_algorithm: "sha256".into(),
                versions: 7,
                held: vec![],
            },
            CurrentChain {
                start: 3,
                tail: 3,
                start_run: None,
                tail_run: None,
                digest_algorithm: "sha256".into(),
                versions: 1,
                held: vec![],
            },
        ];
        let mut f = HashMap::new();
        f.insert(1, facts(datetime!(2035-01-01 0:00 UTC), 3072)); // certificate ends first
        f.insert(2, facts(datetime!(2045-01-01 0:00 UTC), 2048)); // the key size ends first
        f.insert(3, facts(datetime!(2045-01-01 0:00 UTC), 4096)); // the hash ends first
                                                                  // every chain's hash-tree renewal is listed too, in one entry
        let now = datetime!(2029-12-15 0:00 UTC);
        let p = plan(
            &chains,
            &f,
            &policy,
            now,
            time::Duration::days(30),
            DigestAlgorithm::Sha512,
        );
        assert!(p.problems.is_empty(), "{:?}", p.problems);
        let e: Vec<(&str, &str, &str, i64)> = p
            .entries
            .iter()
            .map(|e| (e.kind.as_str(), e.state.as_str(), &e.due[..10], e.chains))
            .collect();
        assert_eq!(
            e,
            vec![
                ("timestamp", "due", "2029-12-02", 7),
                ("timestamp", "scheduled", "2034-12-02", 5),
                ("hashtree", "scheduled", "2039-12-02", 13),
            ]
        );
        assert_eq!(
            p.entries[2].target_digest_algorithm.as_deref(),
            Some("sha512")
        );
        // past the deadline it is overdue
        let p = plan(
            &chains,
            &f,
            &policy,
            datetime!(2030-02-01 0:00 UTC),
            time::Duration::days(30),
            DigestAlgorithm::Sha512,
        );
        assert_eq!(p.entries[0].state, "overdue");
    }

    #[test]
    fn a_hash_inside_the_signatures_ends_the_time_stamp() {
        // the tree's hash (SHA-512) and the key stay suitable; the SHA-256
        // in the TSA's signatures ends in 2031: time-stamp renewal by then
        let policy = AlgorithmPolicy::from_toml(
            "[catalogue]\nname = \"t\"\nversion = \"1\"\n\
             [[hash]]\nname = \"sha256\"\nuntil = \"2031-01-01\"\nsource = \"x\"\n\
             [[hash]]\nname = \"sha512\"\nuntil = \"open\"\nsource = \"x\"\n\
             [[signature]]\nalgorithm = \"rsa\"\nmin_bits = 3000\nuntil = \"open\"\nsource = \"x\"\n",
        )
        .unwrap();
        let chains = vec![CurrentChain {
            start: 1,
            tail: 1,
            start_run: None,
            tail_run: None,
            digest_algorithm: "sha512".into(),
            versions: 3,
            held: vec![],
        }];
        let mut f = HashMap::new();
        f.insert(1, facts(datetime!(2045-01-01 0:00 UTC), 3072));
        let p = plan(
            &chains,
            &f,
            &policy,
            datetime!(2030-12-15 0:00 UTC),
            time::Duration::days(30),
            DigestAlgorithm::Sha512,
        );
        assert_eq!(p.entries.len(), 1, "{:?}", p.entries);
        assert_eq!(p.entries[0].kind, "timestamp");
        assert_eq!(p.entries[0].state, "due");
        assert!(
            p.entries[0].reason.contains("sha256"),
            "{}",
            p.entries[0].reason
        );
    }
}
