//! Evidence on demand: the RFC 4998 record of an object version, built from
//! the catalog's batch row (its time-stamp) and the store's tree tiles.
//! Nothing per object is pre-rendered.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::alg::DigestAlgorithm;
use crate::catalog::{Batch, Catalog, CatalogError, Location};
use crate::ers::{encode_single_chain_record, SingleChainRecord};
use crate::hashtree::assemble_reduced;
use crate::store::{Store, StoreError, StoredTree};

/// Why no evidence record.
#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    #[error("no such archive object or version")]
    NotFound,
    #[error("the version is pending: its batch is not sealed yet")]
    Pending { seq: i64 },
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("evidence for seq {seq}: {detail}")]
    Inconsistent { seq: i64, detail: String },
}

/// Builds evidence records; keeps recently used batch rows (their tokens) in memory.
#[derive(Clone)]
pub struct Evidence {
    catalog: Catalog,
    store: Store,
    batches: Arc<Mutex<HashMap<i64, Arc<Batch>>>>,
}

const BATCH_CACHE: usize = 4096;

impl Evidence {
    pub fn new(catalog: Catalog, store: Store) -> Self {
        Evidence {
            catalog,
            store,
            batches: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    async fn batch(&self, id: i64) -> Result<Arc<Batch>, EvidenceError> {
        if let Some(b) = self.batches.lock().ok().and_then(|m| m.get(&id).cloned()) {
            return Ok(b);
        }
        let b = Arc::new(
            self.catalog
                .batch(id)
                .await?
                .ok_or(EvidenceError::Inconsistent {
                    seq: id,
                    detail: "batch row missing".into(),
                })?,
        );
        if let Ok(mut m) = self.batches.lock() {
            if m.len() >= BATCH_CACHE {
                m.clear();
            }
            m.insert(id, b.clone());
        }
        Ok(b)
    }

    /// The DER evidence record of `aoid` at `version` (`None`: the latest).
    pub async fn record(
        &self,
        aoid: &str,
        version: Option<i64>,
    ) -> Result<(Location, Vec<u8>), EvidenceError> {
        let loc = self
            .catalog
            .locate(aoid, version)
            .await?
            .ok_or(EvidenceError::NotFound)?;
        let batch_id = loc
            .batch_id
            .ok_or(EvidenceError::Pending { seq: loc.seq })?;
        let batch = self.batch(batch_id).await?;
        let store = self.store.clone();
        let seq = loc.seq;
        let members = loc.members.clone();
        let der = tokio::task::spawn_blocking(move || -> Result<Vec<u8>, EvidenceError> {
            let alg = DigestAlgorithm::from_name(&batch.digest_algorithm).map_err(|e| {
                EvidenceError::Inconsistent {
                    seq,
                    detail: e.to_string(),
                }
            })?;
            let w = alg.output_len();
            let idx = store.leaf_index(batch.id as u64, seq)?.ok_or_else(|| {
                EvidenceError::Inconsistent {
                    seq,
                    detail: format!("not in the leaf index of batch {}", batch.id),
                }
            })?;
            let tree = StoredTree {
                batch: batch.id as u64,
                leaves: batch.leaves as usize,
                width: w,
            };
            let (leaf, siblings) = store.path(&tree, idx)?;
            let group: Vec<&[u8]> = members.chunks(w).collect();
            let group = (group.len() > 1).then_some(group);
            let reduced = assemble_reduced(
                &leaf,
                group,
                siblings.iter().map(|s| s.as_slice()).collect(),
            );
            Ok(encode_single_chain_record(&SingleChainRecord {
                digest_algorithm: alg,
                reduced_hashtree: reduced.as_deref(),
                time_stamp: &batch.token,
            }))
        })
        .await
        .map_err(|e| EvidenceError::Inconsistent {
            seq,
            detail: e.to_string(),
        })??;
        Ok((loc, der))
    }
}
