//! The audit trail's proof against the store (`bewahr audit verify`).
//!
//! [`super::verify_chain`] compares the chain with the catalog's own rows
//! only: whoever can write the catalog can recompute every hash and every
//! seal row, or delete the entries after the last seal, and it still
//! passes. The store keeps each sealed batch's tree, whose leaf 0 (key 0)
//! is H(head), and the batch's time-stamp token beside it; the TSA signed
//! the root at genTime. So [`verify_trail`] walks the store's trees by the
//! store's own keys (a removed catalog row hides nothing), recomputes the
//! chain from the catalog's entries, and for every tree with an audit leaf
//! checks: which entry's recomputed head leaf 0 seals; the token's
//! signature, its imprint against the root recomputed from leaf 0 and its
//! siblings, its TSA's path to the given trusted certificates at genTime;
//! the catalog's seal and batch rows against the store; and that the
//! sealed heads ascend with the genTimes. The catalog-only checks run too.
//!
//! What it trusts: the store as written. Someone who can rewrite the store
//! and the catalog and has a trusted TSA at hand could forge a younger
//! trail; the evidence records of sealed heads that auditors keep
//! (`GET /v1/audit/seals/{seq}/evidence`) are the answer to that.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;
use sqlx::Row;
use x509_cert::Certificate;

use super::{chain_hash, verify_chain, view, ChainError, ChainReport, COLS};
use crate::catalog::{Catalog, CatalogError};
use crate::store::{Store, StoreError, StoredTree};
use bewahr_core::alg::DigestAlgorithm;
use bewahr_core::hashtree::hash_pair;
use bewahr_core::tsp::token::check_token;
use bewahr_core::tsp::trust;

/// Why the trail could not be checked at all.
#[derive(Debug, thiserror::Error)]
pub enum ProofError {
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("reading the store: {0}")]
    Task(String),
}

/// What is wrong with the trail, naming the batch, the entry and what differed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Failure {
    /// The catalog-only check: an entry does not follow from the one before.
    #[error("audit entry {seq}: {detail}")]
    Chain { seq: i64, detail: String },
    /// Leaf 0 in the store is the head of no entry the catalog's trail gives.
    #[error("batch {batch}: leaf 0 of its tree in the store is no head of the trail in the catalog ({entries} entries); {detail}")]
    UnknownHead {
        batch: i64,
        entries: i64,
        detail: String,
    },
    /// The catalog's seal row names another entry or head than the store's leaf 0.
    #[error("batch {batch}: leaf 0 in the store seals the head of entry {store_seq}, but the catalog's seal row {detail}")]
    SealRowDisagrees {
        batch: i64,
        store_seq: i64,
        detail: String,
    },
    /// Leaf 0 in the store seals an entry, the catalog has no seal row for the batch.
    #[error("batch {batch}: leaf 0 in the store seals the head of entry {seq}, but the catalog has no seal row for the batch (removed)")]
    SealRowMissing { batch: i64, seq: i64 },
    /// A seal row without a tree (with an audit leaf) in the store.
    #[error("batch {batch}: the catalog's seal row names entry {seq}, but the store has no tree with an audit leaf for the batch")]
    TreeMissing { batch: i64, seq: i64 },
    /// The catalog's batch row is missing or disagrees with the store.
    #[error("batch {batch}: {detail}")]
    BatchRow { batch: i64, detail: String },
    /// No usable time-stamp for the tree.
    #[error("batch {batch}: time-stamp: {detail}")]
    Token { batch: i64, detail: String },
    /// The token's message imprint is not the tree's root.
    #[error("batch {batch}: the time-stamp imprints {imprint}, but the root over leaf 0 in the store is {root}")]
    Imprint {
        batch: i64,
        imprint: String,
        root: String,
    },
    /// The TSA has no valid path to the trusted certificates at genTime.
    #[error("batch {batch}: the time-stamp's TSA {subject} is not trusted at genTime {gen_time}: {detail}")]
    Untrusted {
        batch: i64,
        subject: String,
        gen_time: String,
        detail: String,
    },
    /// A head sealed later in time is older in the trail.
    #[error("batch {batch} (genTime {gen_time}) seals entry {seq}, but batch {prev_batch}, time-stamped before it ({prev_gen_time}), sealed the later entry {prev_seq}")]
    Order {
        batch: i64,
        seq: i64,
        gen_time: String,
        prev_batch: i64,
        prev_seq: i64,
        prev_gen_time: String,
    },
}

/// One tree in the store with an audit leaf, as checked.
#[derive(Clone, Debug, Serialize)]
pub struct SealCheck {
    pub batch: i64,
    /// The entry whose recomputed head leaf 0 is, if the trail has it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seq: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gen_time: Option<String>,
    /// The subject of the certificate that signed the time-stamp.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tsa: Option<String>,
    /// Where the token came from: `store`, `catalog` (a batch sealed before
    /// tokens were kept in the store) or `none`.
    pub token_from: &'static str,
    /// Whether the TSA's path to a trusted certificate held at genTime
    /// (`None`: not checked, no trusted certificates were given).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tsa_trusted: Option<bool>,
}

/// What checking the trail against the store found.
#[derive(Debug, Serialize)]
pub struct TrailReport {
    /// Entries in the catalog (the highest seq).
    pub entries: i64,
    /// The head the catalog's entries give, hex.
    pub head: String,
    /// The catalog-only result, when it passed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub catalog_check: Option<ChainReport>,
    /// Trees in the store (sealed batches and renewal trees).
    pub trees_in_store: usize,
    /// The trees whose leaf 0 is an audit head, by batch id.
    pub seals: Vec<SealCheck>,
    /// Of those, the ones whose leaf 0 is a head of the trail.
    pub sealed_heads: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_sealed_seq: Option<i64>,
    /// Entries after the last sealed head: no time-stamp protects them yet.
    pub unprotected_entries: i64,
    pub failures: Vec<Failure>,
    /// What could not be checked, and what is not yet protected.
    pub warnings: Vec<String>,
}

impl TrailReport {
    /// No failure: the trail is intact as far as the store proves it.
    pub fn intact(&self) -> bool {
        self.failures.is_empty()
    }
}

/// A tree of the store whose leaf 0 is an audit head.
struct AuditTree {
    shape: StoredTree,
    leaf: Vec<u8>,
    siblings: Vec<Vec<u8>>,
    token: Option<Vec<u8>>,
}

/// Every tree id in the store, and those trees with key 0 at leaf 0.
fn audit_trees(store: &Store) -> Result<(usize, BTreeMap<i64, AuditTree>), StoreError> {
    let ids = store.tree_ids()?;
    let mut out = BTreeMap::new();
    for id in &ids {
        if store.leaf_index(*id, 0)? != Some(0) {
            continue; // no audit leaf: a renewal tree
        }
        let Some(shape) = store.stored_tree(*id)? else {
            continue;
        };
        let (leaf, siblings) = store.path(&shape, 0)?;
        out.insert(
            *id as i64,
            AuditTree {
                token: store.token(*id)?,
                shape,
                leaf,
                siblings,
            },
        );
    }
    Ok((ids.len(), out))
}

/// The root over `leaf` and its siblings (lowest first; parents hash the
/// sorted pair, as the sealer built the tree).
fn root_of(alg: DigestAlgorithm, leaf: &[u8], siblings: &[Vec<u8>]) -> Vec<u8> {
    let mut cur = leaf.to_vec();
    let mut out = vec![0u8; alg.output_len()];
    for s in siblings {
        hash_pair(alg, &cur, s, &mut out);
        cur.copy_from_slice(&out);
    }
    cur
}

/// The algorithm of a width, for a tree with neither token nor batch row.
fn by_width(w: usize) -> Option<DigestAlgorithm> {
    match w {
        32 => Some(DigestAlgorithm::Sha256),
        48 => Some(DigestAlgorithm::Sha384),
        64 => Some(DigestAlgorithm::Sha512),
        _ => None,
    }
}

/// A batch row's parts that the store also has.
struct BatchRow {
    root: Vec<u8>,
    token: Vec<u8>,
    algorithm: String,
}

/// What one tree's token and root gave.
struct Stamped {
    check: SealCheck,
    alg: Option<DigestAlgorithm>,
    gen_time: Option<time::OffsetDateTime>,
}

/// Checks one tree's time-stamp (from the store, else the catalog's batch
/// row), its imprint against the root over leaf 0, its TSA's trust and the
/// batch row against the store.
fn check_stamp(
    batch: i64,
    t: &AuditTree,
    row: Option<&BatchRow>,
    abandoned: bool,
    anchors: &[Certificate],
    failures: &mut Vec<Failure>,
) -> Stamped {
    let (token, token_from) = match (&t.token, row) {
        (Some(tok), _) => (Some(tok.as_slice()), "store"),
        (None, Some(r)) => (Some(r.token.as_slice()), "catalog"),
        (None, None) => (None, "none"),
    };
    let mut check = SealCheck {
        batch,
        seq: None,
        gen_time: None,
        tsa: None,
        token_from,
        tsa_trusted: None,
    };
    let mut alg = row.and_then(|r| DigestAlgorithm::from_name(&r.algorithm).ok());
    let mut gen_time = None;
    match row {
        // allocated, written, never recorded: its stamp is checked all the same
        None if abandoned => {}
        None => failures.push(Failure::BatchRow {
            batch,
            detail: "the catalog has no batch row for this tree in the store (removed)".into(),
        }),
        Some(r) => {
            if let (Some(st), true) = (&t.token, token_from == "store") {
                if *st != r.token {
                    failures.push(Failure::BatchRow {
                        batch,
                        detail: "the catalog's time-stamp token differs from the one in the store"
                            .into(),
                    });
                }
            }
        }
    }
    match token.map(|tok| check_token(tok, anchors)) {
        // an attempt that died before its token: it proves and claims nothing
        None if abandoned => {}
        None => failures.push(Failure::Token {
            batch,
            detail: "none in the store or the catalog".into(),
        }),
        Some(Err(e)) => failures.push(Failure::Token {
            batch,
            detail: e.to_string(),
        }),
        Some(Ok(tok)) => {
            alg = Some(tok.imprint_algorithm);
            gen_time = Some(tok.gen_time);
            let at = trust::rfc3339(tok.gen_time);
            check.gen_time = Some(at.clone());
            let subject = trust::subject(&tok.signer);
            check.tsa = Some(subject.clone());
            if !anchors.is_empty() {
                let mut pool = tok.certificates.clone();
                pool.extend(anchors.iter().cloned());
                let r = trust::validated_path(&tok.signer, &pool, anchors, tok.gen_time);
                check.tsa_trusted = Some(r.is_ok());
                if let Err(e) = r {
                    failures.push(Failure::Untrusted {
                        batch,
                        subject,
                        gen_time: at,
                        detail: e.to_string(),
                    });
                }
            }
            if tok.imprint_algorithm.output_len() != t.shape.width {
                failures.push(Failure::Token {
                    batch,
                    detail: format!(
                        "its imprint is {}, but the tree's nodes are {} bytes",
                        tok.imprint_algorithm.name(),
                        t.shape.width
                    ),
                });
            } else {
                let root = root_of(tok.imprint_algorithm, &t.leaf, &t.siblings);
                if root != tok.imprint {
                    failures.push(Failure::Imprint {
                        batch,
                        imprint: hex::encode(&tok.imprint),
                        root: hex::encode(&root),
                    });
                }
                if let Some(r) = row {
                    if r.root != root {
                        failures.push(Failure::BatchRow {
                            batch,
                            detail: format!(
                                "the catalog's root {} is not the root over the store's tree {}",
                                hex::encode(&r.root),
                                hex::encode(&root)
                            ),
                        });
                    }
                }
            }
        }
    }
    Stamped {
        check,
        alg: alg.or_else(|| by_width(t.shape.width)),
        gen_time,
    }
}

/// A leaf 0 value under the tree's algorithm: H(head).
type LeafKey = (DigestAlgorithm, Vec<u8>);

/// Recomputes the chain from the catalog's entries (fields only, not their
/// stored hashes) and finds the entries whose head is one of `wanted`
/// (H(head) under an algorithm): returns the last seq, the head and the matches.
async fn recompute(
    catalog: &Catalog,
    wanted: &HashSet<LeafKey>,
) -> Result<(i64, [u8; 32], HashMap<LeafKey, i64>), CatalogError> {
    let algs: HashSet<DigestAlgorithm> = wanted.iter().map(|(a, _)| *a).collect();
    let mut found = HashMap::new();
    let mut look = |seq: i64, head: &[u8; 32]| {
        for a in &algs {
            let k = (*a, a.digest(head));
            if wanted.contains(&k) {
                found.entry(k).or_insert(seq);
            }
        }
    };
    let mut prev = [0u8; 32];
    let mut last = 0i64;
    look(0, &prev); // a head sealed before the first entry
    loop {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLS} FROM audit WHERE seq > $1 ORDER BY seq LIMIT 10000"
        )))
        .bind(last)
        .fetch_all(catalog.pool())
        .await?;
        if rows.is_empty() {
            break;
        }
        for r in &rows {
            let (v, e, _) = view(r)?;
            prev = chain_hash(&prev, v.seq, &e);
            last = v.seq;
            look(last, &prev);
        }
    }
    Ok((last, prev, found))
}

/// Checks the trail against the store (see the module's doc); `anchors` are
/// the trusted certificates of the archive's TSAs (empty: TSA trust is
/// reported as not checked).
pub async fn verify_trail(
    catalog: &Catalog,
    store: &Store,
    anchors: &[Certificate],
) -> Result<TrailReport, ProofError> {
    let mut failures = Vec::new();
    let mut warnings = Vec::new();
    let catalog_check = match verify_chain(catalog).await? {
        Ok(r) => Some(r),
        Err(ChainError::Broken { seq, detail }) => {
            failures.push(Failure::Chain { seq, detail });
            None
        }
    };
    let s = store.clone();
    let (trees_in_store, trees) = tokio::task::spawn_blocking(move || audit_trees(&s))
        .await
        .map_err(|e| ProofError::Task(e.to_string()))??;

    let mut seal_rows: BTreeMap<i64, (i64, Vec<u8>)> = BTreeMap::new();
    for r in sqlx::query("SELECT batch_id, audit_seq, head FROM audit_seals")
        .fetch_all(catalog.pool())
        .await
        .map_err(CatalogError::from)?
    {
        seal_rows.insert(
            r.try_get(0).map_err(CatalogError::from)?,
            (
                r.try_get(1).map_err(CatalogError::from)?,
                r.try_get(2).map_err(CatalogError::from)?,
            ),
        );
    }

    // each tree's time-stamp, root and batch row; a tree without a row is
    // an abandoned sealing attempt if the catalog allocated its id (the
    // sealer failed or lost the leader lease before its commit; a WORM
    // store keeps the tree), else removed evidence
    let mut stamped = BTreeMap::new();
    let mut abandoned = HashSet::new();
    for (&batch, t) in &trees {
        let row = catalog.batch(batch).await?.map(|b| BatchRow {
            root: b.root,
            token: b.token,
            algorithm: b.digest_algorithm,
        });
        if row.is_none() {
            if let Some((node, at)) = catalog.tree_allocation(batch).await? {
                warnings.push(format!(
                    "tree {batch} in the store is an abandoned sealing attempt (allocated by node {node:?} at {}, never recorded); its time-stamp is checked all the same",
                    crate::catalog::rfc3339_ms(at)
                ));
                abandoned.insert(batch);
            }
        }
        stamped.insert(
            batch,
            check_stamp(
                batch,
                t,
                row.as_ref(),
                abandoned.contains(&batch),
                anchors,
                &mut failures,
            ),
        );
    }

    // which entry each leaf 0 seals
    let wanted: HashSet<LeafKey> = trees
        .iter()
        .filter_map(|(b, t)| stamped[b].alg.map(|a| (a, t.leaf.clone())))
        .collect();
    let (entries, head, found) = recompute(catalog, &wanted).await?;

    let mut seals = Vec::with_capacity(trees.len());
    for (&batch, t) in &trees {
        let st = &stamped[&batch];
        let seq = st
            .alg
            .and_then(|a| found.get(&(a, t.leaf.clone())).copied());
        let row = seal_rows.remove(&batch);
        match (seq, row) {
            (Some(seq), Some((row_seq, row_head))) => {
                let same_head = st.alg.is_some_and(|a| a.digest(&row_head) == t.leaf);
                if row_seq != seq || !same_head {
                    failures.push(Failure::SealRowDisagrees {
                        batch,
                        store_seq: seq,
                        detail: if row_seq != seq {
                            format!("names entry {row_seq}")
                        } else {
                            format!("holds another head ({})", hex::encode(&row_head))
                        },
                    });
                }
            }
            (Some(_), None) if abandoned.contains(&batch) => {}
            (Some(seq), None) => failures.push(Failure::SealRowMissing { batch, seq }),
            // an abandoned attempt without a readable time-stamp claims nothing
            (None, None) if abandoned.contains(&batch) && st.alg.is_none() => {}
            (None, row) => failures.push(Failure::UnknownHead {
                batch,
                entries,
                detail: match row {
                    Some((s, _)) if s > entries => format!(
                        "its seal row names entry {s}, after the trail's last entry: the trail was cut"
                    ),
                    Some((s, _)) => format!(
                        "its seal row names entry {s}: the entries up to it were changed or their hashes recomputed"
                    ),
                    None => "the catalog has no seal row for it: the entries it sealed were removed (the trail cut) or rewritten, and the row with them".into(),
                },
            }),
        }
        let mut check = st.check.clone();
        check.seq = seq;
        seals.push(check);
    }
    for (batch, (seq, _)) in seal_rows {
        failures.push(Failure::TreeMissing { batch, seq });
    }

    // the sealed heads ascend with the genTimes
    let mut timed: Vec<(time::OffsetDateTime, i64, i64)> = trees
        .keys()
        .zip(&seals)
        .filter_map(|(b, c)| Some((stamped[b].gen_time?, *b, c.seq?)))
        .collect();
    timed.sort();
    let mut highest: Option<(time::OffsetDateTime, i64, i64)> = None;
    for (at, batch, seq) in timed {
        match highest {
            Some((pat, pb, ps)) if ps > seq => failures.push(Failure::Order {
                batch,
                seq,
                gen_time: trust::rfc3339(at),
                prev_batch: pb,
                prev_seq: ps,
                prev_gen_time: trust::rfc3339(pat),
            }),
            _ => highest = Some((at, batch, seq)),
        }
    }

    let sealed_heads = seals.iter().filter(|c| c.seq.is_some()).count() as i64;
    let last_sealed_seq = seals.iter().filter_map(|c| c.seq).max();
    let unprotected_entries = entries - last_sealed_seq.unwrap_or(0);
    match last_sealed_seq {
        None => warnings.push(format!(
            "no sealed head: none of the {entries} entries is protected by a time-stamp yet"
        )),
        Some(s) if unprotected_entries > 0 => warnings.push(format!(
            "{unprotected_entries} entries after the last sealed head (entry {s}) are not protected by a time-stamp yet: the next batch seals them"
        )),
        Some(_) => {}
    }
    if anchors.is_empty() && !seals.is_empty() {
        warnings.push(
            "no trusted TSA certificates: the time-stamps' signatures were checked, their TSAs' trust was not (give them with --tsa-cert)".into(),
        );
    }
    if !seals.is_empty() {
        warnings.push(
            "the revocation status of the TSA certificates is not checked here: fetch a sealed head's evidence record and run `bewahr verify` on it for that".into(),
        );
    }
    Ok(TrailReport {
        entries,
        head: hex::encode(head),
        catalog_check,
        trees_in_store,
        seals,
        sealed_heads,
        last_sealed_seq,
        unprotected_entries,
        failures,
        warnings,
    })
}
