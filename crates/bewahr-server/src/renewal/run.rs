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
use crate::catalog::{
    HeldLeaf, NewTree, NotRenewed, NotRenewedReason, Released, RenewalCommitError, RunCounts,
    RunGuard, RunState, RunView, TreeKind, VersionLeaf,
};
use crate::evidence::{build_chains, Bridge, BridgedGroup, ChainPlan, Chains};
use crate::seal::Stamp;
use bewahr_core::alg::{DigestAlgorithm, Hasher};
use bewahr_core::hashtree::TreeBuilder;
use bewahr_core::tsp::token::check_token;
use bewahr_core::tsp::trust::{self, rfc3339};
use bewahr_core::verify::SignatureFamily;

/// One leaf's rehash: the new values, or why it is held on its chain.
pub(super) type RehashOutcome = Result<Rehashed, (NotRenewedReason, String)>;

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
    /// This node no longer leads (another node took the lease).
    #[error("{0}")]
    Fenced(String),
    /// Injected by a test at a named step: as if the process died there.
    #[error("fault injected at {0}")]
    Fault(&'static str),
}

/// What a run did; `not_renewed` is what it left in its scope, and why.
pub type Outcome = crate::catalog::RunReport;

/// A run's counts add up over its attempts (a redo after a crash, the
/// retry of an incomplete run): each attempt skips what the earlier ones
/// recorded and starts from their counts; what is left not renewed is
/// found anew.
fn carried(run: &RunView) -> Outcome {
    Outcome {
        counts: RunCounts {
            chains: run.chains,
            trees_renewed: run.trees_renewed,
            trees_written: run.trees_written,
            tsa_requests: run.tsa_requests,
            bytes_read: run.bytes_read,
        },
        ..Outcome::default()
    }
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
    /// A new renewal tree's id (never handed out before: a retry never
    /// writes over a tree a WORM store keeps).
    async fn allocate_tree(&self, kind: &str) -> Result<i64, RunError> {
        Ok(self
            .catalog
            .allocate_tree_id(kind, self.node(), self.now_ms(), true)
            .await?)
    }

    /// What a commit of run `run` checks: the lease (several nodes) and the run's owner.
    fn guard(&self, run: &RunView) -> Result<RunGuard, RunError> {
        let fence = match &self.cluster {
            Some(c) => Some(c.fence().ok_or_else(|| {
                RunError::Fenced(format!(
                    "renewal run {}: this node no longer holds the leader lease",
                    run.id
                ))
            })?),
            None => None,
        };
        Ok(RunGuard {
            fence,
            run: run.id,
            owner: self.owner().to_string(),
        })
    }

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
        let held = self.catalog.open_held_leaves().await?;
        let chains = current_chains(&links, &held).map_err(RunError::Invalid)?;
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
            audit_leaves: match kind {
                TreeKind::Hashtree => keys.iter().filter(|k| **k < 0).count() as i64,
                _ => 0,
            },
        }
    }

    /// Time-stamp renewal: one tree over the previous time-stamps of every
    /// chain end in scope (per digest algorithm), one time-stamp for it.
    /// Each chain end is a leaf group of two hashes of its time-stamp: of
    /// its DER (RFC 4998 section 5.2) and of the `<TimeStamp>` element the
    /// record's XML form has for it (RFC 6283 section 4.2.1), so the
    /// renewed record can be given in both forms.
    pub async fn run_timestamp(&self, run: &RunView) -> Result<Outcome, RunError> {
        let mut out = carried(run);
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
        let total: i64 = tails.values().flat_map(|e| e.values()).sum();
        self.catalog
            .set_run_total(run.id, self.owner(), out.counts.chains + total)
            .await?;
        for (alg_name, ends) in tails {
            let alg = DigestAlgorithm::from_name(&alg_name)
                .map_err(|e| RunError::Invalid(e.to_string()))?;
            let mut keys = Vec::new();
            let mut leaves = TreeBuilder::with_capacity(alg, ends.len());
            let mut versions = 0;
            for (&id, &n) in &ends {
                if let Err(e) = self.check_tail(id, now).await {
                    tracing::warn!(tree = id, error = %e, "renewal: not renewed");
                    out.not_renewed.push(NotRenewed {
                        seq: None,
                        aoid: None,
                        version: None,
                        tree: id,
                        reason: NotRenewedReason::TimestampNotExtensible,
                        detail: e,
                    });
                    continue;
                }
                let t = self.evidence.tree(id).await?;
                // bridged (docs/research/rfc6283.md section 3): the leaf is
                // the group {H(DER token), H(C14N(<TimeStamp>))}, so that
                // the new time-stamp renews the record in both forms; the
                // members are not stored, evidence derives them from the
                // token (evidence::renewal_group)
                let (a, x) = bewahr_xmlsig::ers::renewal_bridge(alg, &t.token);
                leaves.push_group([a.as_slice(), x.as_slice()])?;
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
            let id = self.allocate_tree("timestamp").await?;
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
            self.catalog
                .commit_timestamp_renewal(&new, &keys, &self.guard(run)?)
                .await?;
            self.evidence.invalidate();
            tracing::info!(run = run.id, tree = id, chain_ends = keys.len(), versions, tsa = %new.tsa, "time-stamp renewal recorded");
            out.counts.trees_written += 1;
            out.counts.trees_renewed += keys.len() as i64;
            out.counts.chains += versions;
            self.catalog
                .update_run(run.id, self.owner(), RunState::Running, &out, None, None)
                .await?;
            self.fault("timestamp:committed")?;
        }
        Ok(out)
    }

    /// Hash-tree renewal to `target`: every version of every chain in scope
    /// is rehashed from its content and combined with the hash of its
    /// ArchiveTimeStampSequence (h'(d) || h'(ATSeq), unsorted); the leaves go
    /// into new trees of at most `max_leaves`, one time-stamp each. A leaf
    /// whose record has an RFC 6283 form is bridged to it: beside those
    /// values its tree holds X, the node the XML form reaches from
    /// {h'(d)..., H'(C14N of its chains)} (`bewahr_xmlsig::ers::hashtree_bridge`),
    /// so that the new chain is given in both forms
    /// (`docs/research/rfc6283.md` section 3).
    pub async fn run_hashtree(
        &self,
        run: &RunView,
        target: DigestAlgorithm,
    ) -> Result<Outcome, RunError> {
        let mut out = carried(run);
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
                Err(e) => out.not_renewed.push(NotRenewed {
                    seq: None,
                    aoid: None,
                    version: None,
                    tree: c.start,
                    reason: NotRenewedReason::TimestampNotExtensible,
                    detail: format!("chain from tree {} not rehashed: {e}", c.start),
                }),
            }
        }
        let total: i64 = todo.iter().map(|c| c.versions).sum();
        self.catalog
            .set_run_total(run.id, self.owner(), out.counts.chains + total)
            .await?;
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

    /// The leaves of `group`'s chains to rehash: (key, chain start), in key order.
    async fn group_keys(&self, group: &[&CurrentChain]) -> Result<Vec<(i64, i64)>, RunError> {
        let mut out = Vec::new();
        for c in group {
            let keys = if c.held.is_empty() {
                let store = self.store.clone();
                let start = c.start;
                tokio::task::spawn_blocking(move || store.tree_keys(start as u64))
                    .await
                    .map_err(|e| RunError::Invalid(e.to_string()))??
            } else {
                c.held.clone()
            };
            for k in keys {
                // a sealed audit head: key 0 in its batch, -(batch id) after
                out.push((if k == 0 { -c.start } else { k }, c.start));
            }
        }
        // the new tree's leaves in key order (its leaf index searches them)
        out.sort_unstable();
        Ok(out)
    }

    /// The work for `keys` (key, chain start), each with its record so far;
    /// what cannot even be planned goes to `failed`.
    pub(super) async fn plan_work(
        &self,
        keys: &[(i64, i64)],
        failed: &mut Vec<(i64, NotRenewedReason, String)>,
    ) -> Result<Vec<Work>, RunError> {
        let mut seqs = Vec::new();
        let mut chain_of: HashMap<i64, i64> = HashMap::new();
        let mut work = Vec::new();
        for &(k, start) in keys {
            if k > 0 {
                seqs.push(k);
                chain_of.insert(k, start);
                continue;
            }
            let batch = -k;
            match self.catalog.sealed_audit_head(batch).await? {
                Some((_, head)) => {
                    let members = self.evidence.audit_head_members(batch, &head).await?;
                    let plan = self.evidence.plan(0, batch).await?;
                    work.push(Work {
                        key: k,
                        chain_start: start,
                        leaf: LeafData::AuditHead { head, members },
                        plan,
                    });
                }
                None => failed.push((
                    k,
                    NotRenewedReason::RecordUnavailable,
                    format!("leaf 0 of batch {batch}: no sealed audit head in the catalog"),
                )),
            }
        }
        seqs.sort_unstable();
        for v in self.catalog.versions_by_seq(&seqs).await? {
            let chain_start = chain_of[&v.seq];
            let Some(batch) = v.batch_id else {
                failed.push((
                    v.seq,
                    NotRenewedReason::NotSealed,
                    format!("version seq {} is in a tree but not sealed", v.seq),
                ));
                continue;
            };
            match self.evidence.plan(v.seq, batch).await {
                Ok(plan) => work.push(Work {
                    key: v.seq,
                    chain_start,
                    leaf: LeafData::Version(v),
                    plan,
                }),
                Err(e) => failed.push((
                    v.seq,
                    NotRenewedReason::RecordUnavailable,
                    format!("version seq {}: {e}", v.seq),
                )),
            }
        }
        work.sort_by_key(|w| w.key);
        Ok(work)
    }

    /// Rehashes `work` with every core: content read once, streaming; each
    /// thread takes the next leaf when it is done with one, so a slow read
    /// never leaves a core idle while work is left. Results in work order.
    pub(super) async fn rehash_all(
        &self,
        target: DigestAlgorithm,
        work: Vec<Work>,
    ) -> Result<(Vec<Work>, Vec<RehashOutcome>), RunError> {
        let store = self.store.clone();
        let workers = self.settings.workers.max(1);
        tokio::task::spawn_blocking(move || {
            let next = std::sync::atomic::AtomicUsize::new(0);
            let mut done: Vec<(usize, RehashOutcome)> = std::thread::scope(|s| {
                let handles: Vec<_> = (0..workers.min(work.len()).max(1))
                    .map(|_| {
                        let (store, work, next) = (&store, &work, &next);
                        s.spawn(move || {
                            let mut mine = Vec::new();
                            loop {
                                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                                let Some(w) = work.get(i) else { break };
                                mine.push((i, rehash_one(store, target, w)));
                            }
                            mine
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .flat_map(|h| h.join().unwrap_or_default())
                    .collect()
            });
            done.sort_by_key(|(i, _)| *i);
            let mut results: Vec<Option<RehashOutcome>> = (0..work.len()).map(|_| None).collect();
            for (i, r) in done {
                results[i] = Some(r);
            }
            let results = work
                .iter()
                .zip(results)
                .map(|(w, r)| {
                    r.unwrap_or_else(|| {
                        Err((
                            NotRenewedReason::ReadFailed,
                            format!("leaf {}: its rehashing thread panicked", w.key),
                        ))
                    })
                })
                .collect();
            (work, results)
        })
        .await
        .map_err(|e| RunError::Invalid(e.to_string()))
    }

    /// Rehashes the leaves of `group`'s chains into one new tree. The
    /// rehashing is published as ranges that any node claims (this one
    /// too, while it waits; see [`super::ranges`]). A leaf that cannot be
    /// rehashed (content missing or unreadable, a member missing) is not
    /// dropped: it is held on its chain, which stays open for it (recorded
    /// in the transaction that closes the chain for the others), and the
    /// run lists it as not renewed.
    async fn rehash_group(
        &self,
        run: &RunView,
        target: DigestAlgorithm,
        group: &[&CurrentChain],
        out: &mut Outcome,
    ) -> Result<(), RunError> {
        let keys = self.group_keys(group).await?;
        let (results, shares) = self
            .rehash_distributed(run, target, &keys, out.counts.chains)
            .await?;
        let mut failed: Vec<(i64, i64, NotRenewedReason, String)> = Vec::new();
        let mut builder = TreeBuilder::with_capacity(target, keys.len());
        let mut tree_keys = Vec::with_capacity(keys.len());
        let mut groups: Vec<(i64, Vec<u8>)> = Vec::new();
        let mut tails: BTreeMap<i64, i64> = BTreeMap::new();
        let mut rehashed: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
        let mut names: HashMap<i64, (String, i64)> = HashMap::new();
        for (&(key, chain_start), r) in keys.iter().zip(results) {
            match r {
                super::ranges::LeafResult::Rehashed {
                    group,
                    bridge,
                    bytes,
                    tail,
                } => {
                    match bridge {
                        // both forms' leaf; its group always stored (it has X and the plain hashes)
                        Some(bridge) => {
                            let g = BridgedGroup {
                                renewed: group,
                                bridge,
                            };
                            builder.push(&g.leaf(target))?;
                            groups.push((key, g.encode()));
                        }
                        None => {
                            builder.push_group(group.iter().map(|m| m.as_slice()))?;
                            if group.len() > 1 {
                                groups.push((key, group.concat()));
                            }
                        }
                    }
                    tree_keys.push(key);
                    out.counts.bytes_read += bytes as i64;
                    tails.insert(chain_start, tail);
                    rehashed.entry(chain_start).or_default().push(key);
                }
                super::ranges::LeafResult::Held {
                    reason,
                    detail,
                    aoid,
                    version,
                } => {
                    if let (Some(a), Some(v)) = (aoid, version) {
                        names.insert(key, (a, v));
                    }
                    failed.push((key, chain_start, reason, detail))
                }
                super::ranges::LeafResult::Deleted => {}
            }
        }
        for (key, chain_start, reason, detail) in &failed {
            tracing::warn!(run = run.id, leaf = key, chain = chain_start, reason = reason.as_str(), %detail, "hash-tree renewal: not rehashed; its chain stays open");
            out.not_renewed.push(NotRenewed {
                seq: Some(*key),
                aoid: names.get(key).map(|v| v.0.clone()),
                version: names.get(key).map(|v| v.1),
                tree: *chain_start,
                reason: *reason,
                detail: detail.clone(),
            });
        }
        let keys = tree_keys;
        self.fault("hashtree:hashed")?;
        if keys.is_empty() {
            return Ok(()); // nothing closed: every chain stays open for all its leaves
        }
        // the chains' ends as the records were built: that is where they close
        let mut starts = Vec::new();
        let mut released = Vec::new();
        for c in group {
            match tails.get(&c.start) {
                Some(&t) if t == c.tail => {
                    if c.held.is_empty() {
                        starts.push((c.start, c.tail));
                    } else {
                        released.push(Released {
                            chain_start: c.start,
                            chain_end: c.tail,
                            keys: rehashed.remove(&c.start).unwrap_or_default(),
                        });
                    }
                }
                Some(&t) => {
                    return Err(RunError::Invalid(format!(
                        "chain from tree {} ends at {t}, expected {}",
                        c.start, c.tail
                    )))
                }
                None => {} // none of its leaves could be rehashed: it stays open
            }
        }
        // leaves not rehashed on chains this tree closes stay on them, open
        let held: Vec<HeldLeaf> = failed
            .iter()
            .filter(|f| starts.iter().any(|s| s.0 == f.1))
            .map(|(key, chain_start, reason, detail)| HeldLeaf {
                key: *key,
                chain_start: *chain_start,
                reason: *reason,
                detail: detail.clone(),
            })
            .collect();
        let tree = builder.build()?;
        let stamp = self.stamp(target, tree.root(), &mut out.counts).await?;
        self.fault("hashtree:stamped")?;
        let id = self.allocate_tree("hashtree").await?;
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
        self.catalog
            .commit_hashtree_renewal(&new, &starts, &held, &released, &self.guard(run)?)
            .await?;
        // what each node rehashed, for admins (the run's `shares`)
        self.catalog.add_shares(run.id, &shares).await?;
        self.catalog.drop_ranges(run.id).await?;
        tracing::info!(
            run = run.id,
            tree = id,
            ?shares,
            "hash-tree renewal: leaves rehashed per node"
        );
        self.evidence.invalidate();
        let versions = keys.iter().filter(|k| **k > 0).count() as i64;
        tracing::info!(run = run.id, tree = id, versions, audit_heads = new.audit_leaves, chains = starts.len(), held = held.len(), released = released.len(), %target, tsa = %new.tsa, "hash-tree renewal recorded");
        out.counts.trees_written += 1;
        out.counts.trees_renewed += (starts.len() + released.len()) as i64;
        out.counts.chains += versions;
        self.catalog
            .update_run(run.id, self.owner(), RunState::Running, out, None, None)
            .await?;
        self.fault("hashtree:committed")?;
        Ok(())
    }
}

/// What a leaf to rehash is.
pub(super) enum LeafData {
    Version(VersionLeaf),
    /// The audit head a batch sealed as leaf 0, and that leaf as sealed.
    AuditHead {
        head: Vec<u8>,
        members: Vec<u8>,
    },
}

/// A leaf to rehash: its key in the new tree, the chain it is on, its record so far.
pub(super) struct Work {
    pub(super) key: i64,
    chain_start: i64,
    pub(super) leaf: LeafData,
    plan: ChainPlan,
}

pub(super) struct Rehashed {
    /// The new data-object group: H'(H'(d) || H'(ATSeq)) for the document
    /// and, if the version has one, for its salt.
    pub(super) group: Vec<Vec<u8>>,
    /// The bridge to the record's RFC 6283 form, for a record that has one
    /// (every renewal before bridged): X and the plain hashes H'(d).
    pub(super) bridge: Option<Bridge>,
    pub(super) bytes: u64,
    pub(super) tail: i64,
}

/// The bridge for a leaf whose data objects' plain hashes are `plain`,
/// whose record so far is `chains` (its DER sequence `sequence`): `None`
/// when the record has no RFC 6283 form (a renewal before bridging), which
/// then stays RFC 4998 only.
fn bridge(
    target: DigestAlgorithm,
    chains: &Chains,
    sequence: &[u8],
    plain: Vec<Vec<u8>>,
) -> Option<Bridge> {
    let record = bewahr_core::ers::encode_record(&chains.algorithms, sequence);
    let ha = bewahr_xmlsig::ers::hashtree_renewal_hash(target, &record, &chains.rehashed).ok()?;
    Some(Bridge {
        x: bewahr_xmlsig::ers::hashtree_bridge(target, &plain, &ha),
        plain,
    })
}

/// h'(d) || h'(ATSeq) for one leaf (and for a version's salt and preserved
/// items): its record so far, its content streamed. An error says why not.
fn rehash_one(
    store: &crate::store::Store,
    target: DigestAlgorithm,
    w: &Work,
) -> Result<Rehashed, (NotRenewedReason, String)> {
    use NotRenewedReason::*;
    let plan = &w.plan;
    let (seq, members) = match &w.leaf {
        LeafData::Version(v) => (v.seq, v.members.as_slice()),
        LeafData::AuditHead { members, .. } => (0, members.as_slice()),
    };
    let what = match &w.leaf {
        LeafData::Version(v) => format!("version seq {}", v.seq),
        LeafData::AuditHead { .. } => format!("the audit head of batch {}", -w.key),
    };
    let chains =
        build_chains(store, seq, members, plan).map_err(|e| (RecordUnavailable, e.to_string()))?;
    if chains.chains.len() != plan.len() {
        return Err((
            RecordUnavailable,
            format!("{what}: its record does not reach the current chain"),
        ));
    }
    let last = plan.last().expect("a plan has a chain");
    let start = last[0].tree.link.id;
    if start != w.chain_start {
        return Err((
            RecordUnavailable,
            format!(
                "{what}: its record's current chain starts at tree {start}, not {}",
                w.chain_start
            ),
        ));
    }
    let sequence = chains.sequence();
    let ha = target.digest(&sequence);
    let v = match &w.leaf {
        LeafData::AuditHead { head, .. } => {
            let h = target.digest(head);
            return Ok(Rehashed {
                group: vec![target.digest_parts(&[&h, &ha])],
                bridge: bridge(target, &chains, &sequence, vec![h]),
                bytes: 0,
                tail: chains.last_tree,
            });
        }
        LeafData::Version(v) => v,
    };
    let sha = &v.sha256;
    let w0 = DigestAlgorithm::from_name(&last[0].tree.link.digest_algorithm)
        .map(|a| a.output_len())
        .unwrap_or(32);
    let group = match last[0].tree.link.kind {
        TreeKind::Initial => members.len(),
        _ => store
            .group(start as u64, seq)
            .map_err(|e| (ReadFailed, format!("{what}: {e}")))?
            .map(|g| match BridgedGroup::decode(&g, w0) {
                Some(b) => b.renewed.len() * w0,
                None => g.len(),
            })
            .unwrap_or(w0),
    };
    // a hash-only list's values: data objects of the group after the
    // stored members, read from the list the version's document is
    let values = if v.media_type == crate::ingest::DIGEST_LIST_MEDIA_TYPE {
        let list = store
            .read_all(sha)
            .map_err(|e| (ReadFailed, format!("{what}: {e}")))?
            .ok_or_else(|| {
                (
                    ContentMissing,
                    format!("{what}: content {} is not in the store", hex::encode(sha)),
                )
            })?;
        bewahr_xaip::digest_list::read(&list)
            .map_err(|e| (ReadFailed, format!("{what}: its stored digest list: {e}")))?
            .digests
    } else {
        vec![]
    };
    let known = 1 + usize::from(v.salt.is_some()) + v.stored_members.len() + values.len();
    if group > known * w0 {
        return Err((GroupNotStored, format!(
            "{what}: its data-object group has {} members; only the document, its salt and {} preserved item(s) are stored, so it cannot be rehashed",
            group / w0,
            v.stored_members.len()
        )));
    }
    let mut reader = store
        .read(sha)
        .map_err(|e| (ReadFailed, format!("{what}: {e}")))?
        .ok_or_else(|| {
            (
                ContentMissing,
                format!("{what}: content {} is not in the store", hex::encode(sha)),
            )
        })?;
    let mut bytes = 0u64;
    let hd = stream_hash(&mut reader, target, &mut bytes)
        .map_err(|e| (ReadFailed, format!("{what}: {e}")))?;
    // the data objects' plain hashes, each then with H'(ATSeq)
    let mut plain = vec![hd];
    if let Some(salt) = &v.salt {
        plain.push(target.digest(salt));
    }
    // the preserved validation items (detached signature, validation data, report)
    for m in &v.stored_members {
        let mut r = store
            .read(m)
            .map_err(|e| (ReadFailed, format!("{what}: {e}")))?
            .ok_or_else(|| {
                (
                    ContentMissing,
                    format!(
                        "{what}: preserved item {} is not in the store",
                        hex::encode(m)
                    ),
                )
            })?;
        plain.push(
            stream_hash(&mut r, target, &mut bytes)
                .map_err(|e| (ReadFailed, format!("{what}: {e}")))?,
        );
    }
    plain.extend(values.iter().map(|value| target.digest(value)));
    let group = plain
        .iter()
        .map(|h| target.digest_parts(&[h, &ha]))
        .collect();
    Ok(Rehashed {
        group,
        bridge: bridge(target, &chains, &sequence, plain),
        bytes,
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
