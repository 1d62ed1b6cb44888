//! Distributed hash-tree renewal: a run's rehashing, split into ranges of
//! `cluster.rehash_range` leaves that any node claims.
//!
//! The leader publishes a tree's leaves (key, chain start) as ranges in the
//! catalog; every node's range worker claims one at a time (`FOR UPDATE
//! SKIP LOCKED`, with an owner and a lease it extends while it works),
//! plans and rehashes its leaves from the shared store and records the
//! result. A range whose owner died is claimed again once its lease ran
//! out; the late owner's result is then refused. The leader waits until
//! every range is done, builds the tree from the results in key order,
//! gets its time-stamp and commits it (fenced). Results are data, not
//! decisions: a range done twice gives the same result, and only the
//! leader's commit changes the chains.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::run::{LeafData, RunError};
use super::Ctx;
use crate::catalog::{ClaimedRange, NotRenewedReason, RunView};
use crate::evidence::Bridge;
use bewahr_core::alg::DigestAlgorithm;

/// One leaf's result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LeafResult {
    /// The new data-object group, bytes read, the chain's last tree as built.
    Rehashed {
        group: Vec<Vec<u8>>,
        /// The bridge to the RFC 6283 form, if the record has one.
        bridge: Option<Bridge>,
        bytes: u64,
        tail: i64,
    },
    /// Not rehashed: held on its chain, and why.
    Held {
        reason: NotRenewedReason,
        detail: String,
        aoid: Option<String>,
        version: Option<i64>,
    },
    /// Left out: the version was deleted (its chain needs no renewal).
    Deleted,
}

/// A leaf's result as a range records it (JSON).
#[derive(Serialize, Deserialize)]
#[serde(tag = "r", rename_all = "snake_case")]
enum Wire {
    Rehashed {
        key: i64,
        group: Vec<String>,
        /// X and the plain hashes, hex (absent: not bridged, or written
        /// by a node from before bridging)
        #[serde(default, skip_serializing_if = "Option::is_none")]
        bridge: Option<(String, Vec<String>)>,
        bytes: u64,
        tail: i64,
    },
    Held {
        key: i64,
        reason: NotRenewedReason,
        detail: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        aoid: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        version: Option<i64>,
    },
    Deleted {
        key: i64,
    },
}

impl Wire {
    fn key(&self) -> i64 {
        match self {
            Wire::Rehashed { key, .. } | Wire::Held { key, .. } | Wire::Deleted { key } => *key,
        }
    }

    fn into_result(self) -> Result<LeafResult, String> {
        Ok(match self {
            Wire::Rehashed {
                group,
                bridge,
                bytes,
                tail,
                ..
            } => LeafResult::Rehashed {
                group: unhex(&group)?,
                bridge: match bridge {
                    Some((x, plain)) => Some(Bridge {
                        x: hex::decode(x).map_err(|e| e.to_string())?,
                        plain: unhex(&plain)?,
                    }),
                    None => None,
                },
                bytes,
                tail,
            },
            Wire::Held {
                reason,
                detail,
                aoid,
                version,
                ..
            } => LeafResult::Held {
                reason,
                detail,
                aoid,
                version,
            },
            Wire::Deleted { .. } => LeafResult::Deleted,
        })
    }
}

fn unhex(values: &[String]) -> Result<Vec<Vec<u8>>, String> {
    values
        .iter()
        .map(hex::decode)
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())
}

/// The node part of an owner (`node/instance`).
pub(super) fn node_of(owner: &str) -> &str {
    owner.rsplit_once('/').map(|(n, _)| n).unwrap_or(owner)
}

impl Ctx {
    /// Rehashes `keys` (key, chain start; in key order) by ranges any node
    /// claims; the results in the same order, and the leaves each node did.
    pub(super) async fn rehash_distributed(
        &self,
        run: &RunView,
        target: DigestAlgorithm,
        keys: &[(i64, i64)],
        chains_before: i64,
    ) -> Result<(Vec<LeafResult>, BTreeMap<String, i64>), RunError> {
        let size = self.settings.rehash_range.max(1);
        let ranges: Vec<(i64, String)> = keys
            .chunks(size)
            .map(|c| {
                serde_json::to_string(c)
                    .map(|w| (c.len() as i64, w))
                    .map_err(|e| RunError::Invalid(e.to_string()))
            })
            .collect::<Result<_, _>>()?;
        let total = ranges.len() as i64;
        self.catalog
            .publish_ranges(run.id, target.name(), &ranges)
            .await?;
        self.ranges_published.notify_one();
        tracing::info!(
            run = run.id,
            leaves = keys.len(),
            ranges = total,
            "hash-tree renewal: rehashing published"
        );
        let mut last_progress = std::time::Instant::now();
        loop {
            // alone (no cluster: a test's context), this context does the work itself;
            // in a cluster every node's range worker does, this one's too
            if self.cluster.is_none() && self.work_one_range().await? {
                continue;
            }
            let (done, all, leaves_done) = self.catalog.ranges_progress(run.id).await?;
            // the run's progress between its commits, about once a second
            if last_progress.elapsed() >= Duration::from_secs(1) {
                last_progress = std::time::Instant::now();
                self.catalog
                    .set_run_progress(run.id, self.owner(), chains_before + leaves_done)
                    .await?;
            }
            if all != total {
                return Err(RunError::Fenced(format!(
                    "renewal run {}: its rehash ranges were replaced (another node took the run over)",
                    run.id
                )));
            }
            if done == total {
                break;
            }
            if let Some(c) = &self.cluster {
                if c.fence().is_none() {
                    return Err(RunError::Fenced(format!(
                        "renewal run {}: this node no longer holds the leader lease",
                        run.id
                    )));
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let mut by_key: HashMap<i64, LeafResult> = HashMap::with_capacity(keys.len());
        let mut shares: BTreeMap<String, i64> = BTreeMap::new();
        for d in self.catalog.range_results(run.id).await? {
            let wire: Vec<Wire> = serde_json::from_str(&d.result).map_err(|e| {
                RunError::Invalid(format!("rehash range {}: its result: {e}", d.id))
            })?;
            *shares.entry(node_of(&d.owner).to_string()).or_default() += d.leaves;
            for w in wire {
                let k = w.key();
                let r = w
                    .into_result()
                    .map_err(|e| RunError::Invalid(format!("rehash range {}: {e}", d.id)))?;
                by_key.insert(k, r);
            }
        }
        let results = keys
            .iter()
            .map(|(k, _)| {
                // a leaf on two chains (held on one) is in the results once
                by_key.get(k).cloned().ok_or_else(|| {
                    RunError::Invalid(format!("leaf {k}: no rehash range has its result"))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok((results, shares))
    }

    /// Claims one range (of any run) and does it; false if none was open.
    pub async fn work_one_range(&self) -> Result<bool, RunError> {
        let lease = self.lease();
        let owner = self.owner().to_string();
        let Some(r) = self
            .catalog
            .claim_range(&owner, lease.as_millis() as i64)
            .await?
        else {
            return Ok(false);
        };
        // the records as the catalog has them now (another node may have renewed)
        self.evidence.invalidate();
        // the lease is extended while the range is worked on
        let beat =
            self.catalog
                .keep_claimed(crate::catalog::Claim::Range, r.id, owner.clone(), lease);
        let result = self.rehash_range(&r).await;
        beat.abort();
        let (json, leaves) = result?;
        if self
            .catalog
            .finish_range(r.id, &owner, &json, self.now_ms())
            .await?
        {
            tracing::debug!(range = r.id, run = r.run_id, leaves, "rehash range done");
        } else {
            tracing::warn!(
                range = r.id,
                run = r.run_id,
                "rehash range taken over by another node; result dropped"
            );
        }
        Ok(true)
    }

    /// One range's leaves, planned and rehashed: the result (JSON), in the
    /// range's order, and how many leaves.
    async fn rehash_range(&self, r: &ClaimedRange) -> Result<(String, usize), RunError> {
        let target = DigestAlgorithm::from_name(&r.target)
            .map_err(|e| RunError::Invalid(format!("rehash range {}: {e}", r.id)))?;
        let keys: Vec<(i64, i64)> = serde_json::from_str(&r.work)
            .map_err(|e| RunError::Invalid(format!("rehash range {}: its work: {e}", r.id)))?;
        let mut failed = Vec::new();
        let work = self.plan_work(&keys, &mut failed).await?;
        let (work, results) = self.rehash_all(target, work).await?;
        let mut by_key: HashMap<i64, Wire> = HashMap::with_capacity(keys.len());
        let mut seen: std::collections::HashSet<i64> = std::collections::HashSet::new();
        for (key, reason, detail) in failed {
            by_key.insert(
                key,
                Wire::Held {
                    key,
                    reason,
                    detail,
                    aoid: None,
                    version: None,
                },
            );
        }
        for (w, r) in work.iter().zip(results) {
            let wire = match r {
                Ok(x) => Wire::Rehashed {
                    key: w.key,
                    group: x.group.iter().map(hex::encode).collect(),
                    bridge: x
                        .bridge
                        .map(|b| (hex::encode(b.x), b.plain.iter().map(hex::encode).collect())),
                    bytes: x.bytes,
                    tail: x.tail,
                },
                Err((reason, detail)) => {
                    let (aoid, version) = match &w.leaf {
                        LeafData::Version(v) => (Some(v.aoid.clone()), Some(v.version)),
                        LeafData::AuditHead { .. } => (None, None),
                    };
                    Wire::Held {
                        key: w.key,
                        reason,
                        detail,
                        aoid,
                        version,
                    }
                }
            };
            by_key.insert(w.key, wire);
        }
        // a version the catalog no longer lists (deleted) is left out, as said
        let out: Vec<Wire> = keys
            .iter()
            .filter_map(|(k, _)| {
                if !seen.insert(*k) {
                    return None; // a second chain of the same leaf: reported once
                }
                Some(by_key.remove(k).unwrap_or(Wire::Deleted { key: *k }))
            })
            .collect();
        let json = serde_json::to_string(&out).map_err(|e| RunError::Invalid(e.to_string()))?;
        Ok((json, keys.len()))
    }
}

/// Every node's range worker: claims and does ranges while there are any,
/// else looks again every `poll`.
pub(super) async fn worker(
    ctx: std::sync::Arc<Ctx>,
    poll: Duration,
    mut stop: crate::supervisor::StopSignal,
) {
    loop {
        if stop.is_stopping() {
            return;
        }
        let wait = match ctx.work_one_range().await {
            Ok(true) => continue,
            Ok(false) => poll,
            Err(e) => {
                tracing::warn!(error = %e, "rehash range failed; its lease runs out and it is claimed again");
                poll
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = ctx.ranges_published.notified() => {}
            _ = stop.stopped() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A rehashed leaf's result crosses between nodes with its bridge; a
    /// result from a node from before bridging reads as unbridged.
    #[test]
    fn results_cross_nodes_with_their_bridge() {
        let bridged = Wire::Rehashed {
            key: 7,
            group: vec!["aa".into(), "bb".into()],
            bridge: Some(("cc".into(), vec!["dd".into(), "ee".into()])),
            bytes: 10,
            tail: 3,
        };
        let json = serde_json::to_string(&bridged).unwrap();
        let back: Wire = serde_json::from_str(&json).unwrap();
        assert_eq!(
            back.into_result().unwrap(),
            LeafResult::Rehashed {
                group: vec![vec![0xaa], vec![0xbb]],
                bridge: Some(Bridge {
                    x: vec![0xcc],
                    plain: vec![vec![0xdd], vec![0xee]],
                }),
                bytes: 10,
                tail: 3,
            }
        );
        let old = r#"{"r":"rehashed","key":7,"group":["aa"],"bytes":1,"tail":3}"#;
        let back: Wire = serde_json::from_str(old).unwrap();
        assert!(matches!(
            back.into_result().unwrap(),
            LeafResult::Rehashed { bridge: None, .. }
        ));
        let bad =
            r#"{"r":"rehashed","key":7,"group":["aa"],"bridge":["zz",[]],"bytes":1,"tail":3}"#;
        let back: Wire = serde_json::from_str(bad).unwrap();
        assert!(back.into_result().is_err());
    }
}
