//! Executing renewal runs (RFC 4998 section 5.2, TR-ESOR A4.7/A4.8).
//!
//! Each renewal tree is written in three steps: the tree to the store
//! (durable, under a fresh id nothing refers to yet), then one catalog
//! transaction that records the tree and links it into the chains, only
//! where they are still unlinked. A crash before the transaction leaves
//! every record as it was (the stray tree is overwritten by the redo); a
//! crash after it leaves the renewal complete. So a run can be redone from
//! the start at any point, and no chain is extended twice.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use time::OffsetDateTime;

use super::plan::{current_chains, plan, CurrentChain, Plan, TokenFacts};
use super::Ctx;
use crate::catalog::{NewTree, RenewalCommitError, RunCounts, RunView, TreeKind};
use crate::evidence::build_chains;
use crate::seal::Stamp;
use bewahr_core::alg::{DigestAlgorithm, Hasher};
use bewahr_core::hashtree::TreeBuilder;
use bewahr_core::tsp::token::check_token;
use bewahr_core::tsp::trust::{self, rfc3339};
use bewahr_core::verify::SignatureFamily;

/// Why a run stopped (what it recorded before stays recorded and valid).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("catalog: {0}")]
    Catalog(#[from] crate::catalog::CatalogError),
    #[error("store: {0}")]
    Store(#[from] crate::store::StoreError),
    #[error("evidence: {0}")]
    Evidence(#[from] crate::evidence::EvidenceError),
    #[error("recording the renewal: {0}")]
    Commit(#[from] RenewalCommitError),
    #[error("no time-stamp after {attempts} attempt(s): {last}")]
    Tsa { attempts: u32, last: String },
    #[error("hash tree: {0}")]
    Tree(#[from] bewahr_core::hashtree::TreeError),
    #[error("{0}")]
    Invalid(String),
    /// Injected by a test at a named step: as if the process died there.
    #[error("fault injected at {0}")]
    Fault(&'static str),
}

/// What a run did; `errors` are the chains it could not renew.
#[derive(Debug, Default)]
pub struct Outcome {
    pub counts: RunCounts,
    pub errors: Vec<String>,
}

fn ms(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

/// Reads the facts renewal needs from a time-stamp token (unchecked trust).
pub fn token_facts(token: &[u8]) -> Result<TokenFacts, String> {
    let t = check_token(token, &[]).map_err(|e| e.to_string())?;
    Ok(TokenFacts {
        gen_time: t.gen_time,
        tsa: trust::subject(&t.signer),
        not_after: trust::not_after(&t.signer),
        family: if t.key.curve.is_some() {
            SignatureFamily::Ecdsa
        } else {
            SignatureFamily::Rsa
        },
        bits: t.key.bits,
        signature_algorithm: t.signature_algorithm.clone(),
        signature_digests: std::iter::once(t.signature_digest)
            .chain(
                bewahr_core::tsp::sig::scheme(&t.signer.signature_algorithm, None)
                    .ok()
                    .map(|s| s.digest()),
            )
            .collect(),
    })
}

impl Ctx {
    fn fault(&self, step: &'static str) -> Result<(), RunError> {
        match &self.fault {
            Some(f) if f(step) => Err(RunError::Fault(step)),
            _ => Ok(()),
        }
    }

    /// Facts about the time-stamps of `tails`, cached by tree id (tokens never change).
    async fn facts(
        &self,
        tails: impl Iterator<Item = i64>,
    ) -> Result<HashMap<i64, Result<TokenFacts, String>>, RunError> {
        let mut out = HashMap::new();
        for id in tails {
            if out.contains_key(&id) {
                continue;
            }
            let cached = self.facts.lock().ok().and_then(|m| m.get(&id).cloned());
            let f = match cached {
                Some(f) => f,
                None => {
                    let t = self.evidence.tree(id).await?;
                    let f = token_facts(&t.token);
                    if let Ok(mut m) = self.facts.lock() {
                        m.insert(id, f.clone());
                    }
                    f
                }
            };
            out.insert(id, f);
        }
        Ok(out)
    }

    /// The renewal plan now.
    pub async fn plan(&self) -> Result<(Plan, Vec<CurrentChain>), RunError> {
        let links = self.catalog.tree_links().await?;
        let chains = current_chains(&links).map_err(RunError::Invalid)?;
        let facts = self.facts(chains.iter().map(|c| c.tail)).await?;
        let policy = self.policy();
        let p = plan(
            &chains,
            &facts,
            &policy,
            (self.clock)(),
            self.settings.margin,
            self.settings.hash_algorithm,
        );
        Ok((p, chains))
    }

    /// Checks a chain's last time-stamp before it is renewed: the token, the
    /// TSA's path to a trusted certificate at genTime, the certificate still
    /// valid now, and its algorithms still suitable now.
    async fn check_tail(&self, id: i64, now: OffsetDateTime) -> Result<(), String> {
        let t = self.evidence.tree(id).await.map_err(|e| e.to_string())?;
        let tok = check_token(&t.token, &[]).map_err(|e| format!("tree {id}: {e}"))?;
        let trusted = self.trusted();
        let pool: Vec<_> = tok
            .certificates
            .iter()
            .chain(trusted.iter())
            .cloned()
            .collect();
        trust::validate_path(&tok.signer, &pool, &trusted, tok.gen_time)
            .map_err(|e| format!("tree {id}: its time-stamp no longer verifies: {e}"))?;
        let end = trust::not_after(&tok.signer);
        if end <= now {
            return Err(format!(
                "tree {id}: the certificate of TSA {} ended at {}, before this renewal at {}; the chain can no longer be extended by time-stamp renewal",
                trust::subject(&tok.signer),
                rfc3339(end),
                rfc3339(now)
            ));
        }
        let policy = self.policy();
        if let Some(e) = policy.hash_unsuitable_before(tok.imprint_algorithm, now) {
            return Err(format!(
                "tree {id}: {} was suitable only until {}",
                tok.imprint_algorithm,
                rfc3339(e)
            ));
        }
        let family = if tok.key.curve.is_some() {
            SignatureFamily::Ecdsa
        } else {
            SignatureFamily::Rsa
        };
        if let Some(e) = policy.signature_unsuitable_before(family, tok.key.bits, now) {
            return Err(format!(
                "tree {id}: {} ({} bits) was suitable only until {}",
                tok.signature_algorithm,
                tok.key.bits,
                rfc3339(e)
            ));
        }
        Ok(())
    }

    /// Asks the TSAs, retrying with a doubling backoff.
    async fn stamp(
        &self,
        alg: DigestAlgorithm,
        imprint: &[u8],
        counts: &mut RunCounts,
    ) -> Result<Stamp, RunError> {
        let mut delay = self.settings.retry_min;
        let mut last = String::new();
        for attempt in 1..=self.settings.max_attempts.max(1) {
            counts.tsa_requests += 1;
            match self.stamper.stamp(alg, imprint, (self.clock)()).await {
                Ok(s) => return Ok(s),
                Err(e) => {
                    metrics::counter!("bewahr_tsa_errors_total").increment(1);
                    tracing::warn!(attempt, error = %e, "renewal: time-stamp request failed");
                    last = e;
                    if attempt < self.settings.max_attempts {
                        self.set_state(super::SchedulerState::Backoff);
                        tokio::time::sleep(delay).await;
                        self.set_state(super::SchedulerState::Running);
                        delay = (delay * 2).min(self.settings.retry_max);
                    }
                }
            }
        }
        Err(RunError::Tsa {
            attempts: self.settings.max_attempts.max(1),
            last,
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn new_tree(
        &self,
        id: i64,
        kind: TreeKind,
        run: &RunView,
        alg: DigestAlgorithm,
        tree: &bewahr_core::hashtree::HashTree,
        keys: &[i64],
        stamp: Stamp,
    ) -> NewTree {
        NewTree {
            id,
            kind,
            run_id: run.id,
            created_at_ms: ms((self.clock)()),
            digest_algorithm: alg.name().to_string(),
            leaves: tree.leaf_count() as i64,
            first_key: keys.first().copied().unwrap_or(0),
            last_key: keys.last().copied().unwrap_or(0),
            root: tree.root().to_vec(),
            tsa: stamp.tsa,
            gen_time_ms: ms(stamp.gen_time),
            token: stamp.token,
        }
    }

    /// Time-stamp renewal: one tree over the previous time-stamps of every
    /// chain end in scope (per digest algorithm), one time-stamp for it.
    pub async fn run_timestamp(&self, run: &RunView) -> Result<Outcome, RunError> {
        let mut out = Outcome::default();
        let now = (self.clock)();
        let (plan, chains) = self.plan().await?;
        let wanted: Option<Vec<i64>> = (run.scope == "due").then(|| {
            plan.due()
                .filter(|e| e.kind == "timestamp")
                .flat_map(|e| e.tree_ids.iter().copied())
                .collect()
        });
        // chain ends and the versions behind them, by algorithm
        let mut tails: BTreeMap<String, BTreeMap<i64, i64>> = BTreeMap::new();
        for c in &chains {
            if wanted.as_ref().is_some_and(|w| !w.contains(&c.tail)) {
                continue;
            }
            if c.tail_run == Some(run.id) {
                continue; // renewed by this run before it was interrupted
            }
            *tails
                .entry(c.digest_algorithm.clone())
                .or_default()
                .entry(c.tail)
                .or_default() += c.versions;
        }
        for (alg_name, ends) in tails {
            let alg = DigestAlgorithm::from_name(&alg_name)
                .map_err(|e| RunError::Invalid(e.to_string()))?;
            let mut keys = Vec::new();
            let mut leaves = TreeBuilder::with_capacity(alg, ends.len());
            let mut versions = 0;
            for (&id, &n) in &ends {
                if let Err(e) = self.check_tail(id, now).await {
                    tracing::warn!(tree = id, error = %e, "renewal: not renewed");
                    out.errors.push(e);
                    continue;
                }
                let t = self.evidence.tree(id).await?;
                leaves.push(&alg.digest(&t.token))?;
                keys.push(id);
                versions += n;
            }
            self.fault("timestamp:verified")?;
            if keys.is_empty() {
                continue;
            }
            let tree = leaves.build()?;
            let stamp = self.stamp(alg, tree.root(), &mut out.counts).await?;
            self.fault("timestamp:stamped")?;
            let id = self.catalog.next_renewal_tree_id().await?;
            let store = self.store.clone();
            let tree = tokio::task::spawn_blocking(move || {
                store
                    .put_tree(id as u64, &tree, &keys)
                    .map(|_| (tree, keys))
            })
            .await
            .map_err(|e| RunError::Invalid(e.to_string()))??;
            let (tree, keys) = tree;
            self.fault("timestamp:stored")?;
            let new = self.new_tree(id, TreeKind::Timestamp, run, alg, &tree, &keys, stamp);
            self.catalog.commit_timestamp_renewal(&new, &keys).await?;
            self.evidence.invalidate();
            tracing::info!(run = run.id, tree = id, chain_ends = keys.len(), versions, tsa = %new.tsa, "time-stamp renewal recorded");
            out.counts.trees_written += 1;
            out.counts.trees_renewed += keys.len() as i64;
            out.counts.chains += versions;
            self.catalog
                .update_run(run.id, "running", &out.counts, &out.errors, None)
                .await?;
            self.fault("timestamp:committed")?;
        }
        Ok(out)
    }

    /// Hash-tree renewal to `target`: every version of every chain in scope
    /// is rehashed from its content and combined with the hash of its
    /// ArchiveTimeStampSequence (h'(d) || h'(ATSeq), unsorted); the leaves go
    /// into new trees of at most `max_leaves`, one time-stamp each.
    pub async fn run_hashtree(
        &self,
        run: &RunView,
        target: DigestAlgorithm,
    ) -> Result<Outcome, RunError> {
        let mut out = Outcome::default();
        let now = (self.clock)();
        let (plan, chains) = self.plan().await?;
        let wanted: Option<Vec<i64>> = (run.scope == "due").then(|| {
            plan.due()
                .filter(|e| e.kind == "hashtree")
                .flat_map(|e| e.tree_ids.iter().copied())
                .collect()
        });
        let mut todo: Vec<&CurrentChain> = Vec::new();
        let mut tail_ok: HashMap<i64, Result<(), String>> = HashMap::new();
        for c in &chains {
            let in_scope = match &wanted {
                Some(w) => w.contains(&c.start),
                None => c.digest_algorithm != target.name(),
            } && c.start_run != Some(run.id); // not what this run wrote before it was interrupted
            if !in_scope {
                continue;
            }
            if let std::collections::hash_map::Entry::Vacant(v) = tail_ok.entry(c.tail) {
                v.insert(self.check_tail(c.tail, now).await);
            }
            match &tail_ok[&c.tail] {
                Ok(()) => todo.push(c),
                Err(e) => out
                    .errors
                    .push(format!("chain from tree {} not rehashed: {e}", c.start)),
            }
        }
        // groups of whole chains, at most max_leaves versions each (a larger chain alone)
        let max = self.settings.max_leaves.max(1) as i64;
        let mut groups: Vec<Vec<&CurrentChain>> = Vec::new();
        let mut size = 0;
        for c in todo {
            if groups.is_empty() || size + c.versions > max {
                groups.push(Vec::new());
                size = 0;
            }
            size += c.versions;
            groups.last_mut().expect("pushed").push(c);
        }
        for group in groups {
            self.rehash_group(run, target, &group, &mut out).await?;
        }
        Ok(out)
    }

    async fn rehash_group(
        &self,
        run: &RunView,
        target: DigestAlgorithm,
        group: &[&CurrentChain],
        out: &mut Outcome,
    ) -> Result<(), RunError> {
        // the versions of these chains and their records so far
        let mut seqs = Vec::new();
        for c in group {
            let store = self.store.clone();
            let start = c.start;
            let keys = tokio::task::spawn_blocking(move || store.tree_keys(start as u64))
                .await
                .map_err(|e| RunError::Invalid(e.to_string()))??;
            seqs.extend(keys);
        }
        seqs.sort_unstable();
        let versions = self.catalog.versions_by_seq(&seqs).await?;
        let mut work = Vec::with_capacity(versions.len());
        for v in versions {
            let Some(batch) = v.batch_id else {
                out.errors
                    .push(format!("version seq {} is in a tree but not sealed", v.seq));
                continue;
            };
            let plan = self.evidence.plan(v.seq, batch).await?;
            work.push((v, plan));
        }
        let store = self.store.clone();
        let workers = self.settings.workers.max(1);
        // rehash with every core: content read once, streaming; each thread
        // takes the next version when it is done with one, so a slow read
        // never leaves a core idle while work is left
        let results = tokio::task::spawn_blocking(move || {
            let next = std::sync::atomic::AtomicUsize::new(0);
            let mut done: Vec<(usize, Result<Rehashed, String>)> = std::thread::scope(|s| {
                let handles: Vec<_> = (0..workers.min(work.len()).max(1))
                    .map(|_| {
                        let (store, work, next) = (&store, &work, &next);
                        s.spawn(move || {
                            let mut mine = Vec::new();
                            loop {
                                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                                let Some((v, plan)) = work.get(i) else { break };
                                mine.push((i, rehash_one(store, target, v, plan)));
                            }
                            mine
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .flat_map(|h| {
                        h.join().unwrap_or_else(|_| {
                            vec![(usize::MAX, Err("a rehashing thread panicked".to_string()))]
                        })
                    })
                    .collect()
            });
            // in the order of the work (seq order): the tree's leaves are in it
            done.sort_by_key(|(i, _)| *i);
            done.into_iter().map(|(_, r)| r).collect::<Vec<_>>()
        })
        .await
        .map_err(|e| RunError::Invalid(e.to_string()))?;
        let mut builder = TreeBuilder::with_capacity(target, results.len());
        let mut keys = Vec::with_capacity(results.len());
        let mut groups: Vec<(i64, Vec<u8>)> = Vec::new();
        let mut tails: BTreeMap<i64, i64> = BTreeMap::new();
        for r in results {
            match r {
                Ok(r) => {
                    builder.push_group(r.group.iter().map(|m| m.as_slice()))?;
                    if r.group.len() > 1 {
                        groups.push((r.seq, r.group.concat()));
                    }
                    keys.push(r.seq);
                    out.counts.bytes_read += r.bytes as i64;
                    tails.insert(r.start, r.tail);
                }
                Err(e) => out.errors.push(e),
            }
        }
        self.fault("hashtree:hashed")?;
        if keys.is_empty() {
            return Ok(());
        }
        // the chains' ends as the records were built: that is where they close
        let mut starts = Vec::new();
        for c in group {
            match tails.get(&c.start) {
                Some(&t) if t == c.tail => starts.push((c.start, c.tail)),
                Some(&t) => {
                    return Err(RunError::Invalid(format!(
                        "chain from tree {} ends at {t}, expected {}",
                        c.start, c.tail
                    )))
                }
                None => {} // none of its versions could be rehashed
            }
        }
        let tree = builder.build()?;
        let stamp = self.stamp(target, tree.root(), &mut out.counts).await?;
        self.fault("hashtree:stamped")?;
        let id = self.catalog.next_renewal_tree_id().await?;
        let store = self.store.clone();
        let (tree, keys) = tokio::task::spawn_blocking(move || {
            store.put_groups(id as u64, &groups)?;
            store
                .put_tree(id as u64, &tree, &keys)
                .map(|_| (tree, keys))
        })
        .await
        .map_err(|e| RunError::Invalid(e.to_string()))??;
        self.fault("hashtree:stored")?;
        let new = self.new_tree(id, TreeKind::Hashtree, run, target, &tree, &keys, stamp);
        self.catalog.commit_hashtree_renewal(&new, &starts).await?;
        self.evidence.invalidate();
        tracing::info!(run = run.id, tree = id, versions = keys.len(), chains = starts.len(), %target, tsa = %new.tsa, "hash-tree renewal recorded");
        out.counts.trees_written += 1;
        out.counts.trees_renewed += starts.len() as i64;
        out.counts.chains += keys.len() as i64;
        self.catalog
            .update_run(run.id, "running", &out.counts, &out.errors, None)
            .await?;
        self.fault("hashtree:committed")?;
        Ok(())
    }
}

struct Rehashed {
    seq: i64,
    /// The new data-object group: H'(H'(d) || H'(ATSeq)) for the document
    /// and, if the version has one, for its salt.
    group: Vec<Vec<u8>>,
    bytes: u64,
    start: i64,
    tail: i64,
}

/// h'(d) || h'(ATSeq) for one version (and for its salt): its record so far, its content streamed.
fn rehash_one(
    store: &crate::store::Store,
    target: DigestAlgorithm,
    v: &crate::catalog::VersionLeaf,
    plan: &crate::evidence::ChainPlan,
) -> Result<Rehashed, String> {
    let (seq, sha, members) = (v.seq, &v.sha256, v.members.as_slice());
    let chains = build_chains(store, seq, members, plan).map_err(|e| e.to_string())?;
    if chains.chains.len() != plan.len() {
        return Err(format!(
            "version seq {seq}: its record does not reach the current chain"
        ));
    }
    let last = plan.last().expect("a plan has a chain");
    let start = last[0].tree.link.id;
    let w0 = DigestAlgorithm::from_name(&last[0].tree.link.digest_algorithm)
        .map(|a| a.output_len())
        .unwrap_or(32);
    let group = match last[0].tree.link.kind {
        TreeKind::Initial => members.len(),
        _ => store
            .group(start as u64, seq)
            .map_err(|e| e.to_string())?
            .map(|g| g.len())
            .unwrap_or(w0),
    };
    let known = 1 + usize::from(v.salt.is_some()) + v.stored_members.len();
    if group > known * w0 {
        return Err(format!(
            "version seq {seq}: its data-object group has {} members; only the document, its salt and {} preserved item(s) are stored, so it cannot be rehashed",
            group / w0,
            v.stored_members.len()
        ));
    }
    let ha = target.digest(&chains.sequence());
    let mut reader = store.read(sha).map_err(|e| e.to_string())?.ok_or_else(|| {
        format!(
            "version seq {seq}: content {} is not in the store",
            hex::encode(sha)
        )
    })?;
    let mut bytes = 0u64;
    let hd = stream_hash(&mut reader, target, &mut bytes)?;
    let mut group = vec![target.digest_parts(&[&hd, &ha])];
    if let Some(salt) = &v.salt {
        group.push(target.digest_parts(&[&target.digest(salt), &ha]));
    }
    // the preserved validation items (detached signature, validation data, report)
    for m in &v.stored_members {
        let mut r = store.read(m).map_err(|e| e.to_string())?.ok_or_else(|| {
            format!(
                "version seq {seq}: preserved item {} is not in the store",
                hex::encode(m)
            )
        })?;
        let hm = stream_hash(&mut r, target, &mut bytes)?;
        group.push(target.digest_parts(&[&hm, &ha]));
    }
    Ok(Rehashed {
        seq,
        group,
        bytes,
        start,
        tail: chains.last_tree,
    })
}

fn stream_hash(
    reader: &mut crate::store::ContentReader,
    alg: DigestAlgorithm,
    bytes: &mut u64,
) -> Result<Vec<u8>, String> {
    let mut h = Hasher::new(alg);
    while let Some(piece) = reader.next_piece().map_err(|e| e.to_string())? {
        *bytes += piece.len() as u64;
        h.update(&piece);
    }
    Ok(h.finish())
}

/// How long to wait before retrying after `attempt` failures.
pub fn backoff(min: Duration, max: Duration, attempt: u32) -> Duration {
    min.saturating_mul(1u32 << attempt.min(16)).min(max)
}
