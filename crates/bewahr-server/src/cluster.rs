//! Several nodes on one catalog: every node accepts every request; the
//! roles one node holds at a time (sealing, the renewal scheduler, the
//! sweeper) go with the leader lease in the catalog.
//!
//! A node is `cluster.node_id` (unique in the cluster; default the host
//! name and the listener's port) plus a random instance per process. The
//! lease worker takes or renews the lease every third of `cluster.lease_ms`;
//! the epoch it gets is the fencing token that the leader's commits check
//! in their own transaction ([`crate::catalog::Fence`]), so a node that lost
//! the lease (paused, partitioned, slow) cannot commit a batch or a renewal
//! after another took over. A node that cannot reach the catalog for two
//! thirds of the lease steps down before anyone else may take it.
//! A clean stop gives the lease up; after `kill -9` another node takes it
//! once it has run out, the restarted node itself at once (same node id).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::watch;

use crate::catalog::{Catalog, Fence};

/// What this node is now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Role {
    Follower,
    /// Holds the leader lease of this epoch.
    Leader(i64),
}

/// Settings of the lease.
#[derive(Clone, Debug)]
pub struct ClusterSettings {
    pub node_id: String,
    pub lease: Duration,
    /// The store is shared (S3): other nodes may run. False: a node-local
    /// store, this process is the only node (it takes the lease at once).
    pub shared: bool,
}

/// The node and its role, for admins (`/v1/admin/status`, `/healthz`).
#[derive(Clone, Debug, Default, Serialize, utoipa::ToSchema)]
pub struct ClusterStatus {
    pub node: String,
    pub instance: String,
    /// `leader` or `follower`.
    pub role: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub epoch: Option<i64>,
    /// The leader's node id as last read (empty: none yet).
    pub leader: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// Handle to this node's place in the cluster.
#[derive(Clone)]
pub struct Cluster {
    inner: Arc<Inner>,
}

struct Inner {
    catalog: Catalog,
    node: String,
    instance: String,
    lease: Duration,
    shared: bool,
    role: watch::Sender<Role>,
    status: Mutex<ClusterStatus>,
}

/// A node id when none is configured: the host name and the listener's port
/// (two nodes on one host differ in port).
pub fn default_node_id(listen: &str) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into());
    let port = listen.rsplit(':').next().unwrap_or("0");
    format!("{host}-{port}")
}

impl Cluster {
    /// Takes the lease if it is free (a single node leads from its first
    /// request on) and starts the lease worker under `sup`.
    pub async fn start(
        catalog: Catalog,
        settings: ClusterSettings,
        sup: &crate::supervisor::Supervisor,
    ) -> Self {
        let instance = format!(
            "{}/{}",
            settings.node_id,
            &crate::ids::Aoid::random().into_string()[..8]
        );
        let (tx, _) = watch::channel(Role::Follower);
        let c = Cluster {
            inner: Arc::new(Inner {
                catalog,
                node: settings.node_id.clone(),
                instance: instance.clone(),
                lease: settings.lease.max(Duration::from_millis(300)),
                shared: settings.shared,
                role: tx,
                status: Mutex::new(ClusterStatus {
                    node: settings.node_id,
                    instance,
                    role: "follower".into(),
                    ..Default::default()
                }),
            }),
        };
        c.tick().await;
        sup.spawn("leader-lease", c.clone().worker(sup.stop_signal()));
        c
    }

    pub fn node(&self) -> &str {
        &self.inner.node
    }

    /// This process's holder name: the owner of what it claims.
    pub fn instance(&self) -> &str {
        &self.inner.instance
    }

    pub fn lease(&self) -> Duration {
        self.inner.lease
    }

    /// Whether other nodes may share the catalog and store.
    pub fn shared(&self) -> bool {
        self.inner.shared
    }

    pub fn role(&self) -> Role {
        self.inner.role.borrow().clone()
    }

    /// The fence of the current leadership, if this node leads.
    pub fn fence(&self) -> Option<Fence> {
        match self.role() {
            Role::Leader(epoch) => Some(Fence {
                instance: self.inner.instance.clone(),
                epoch,
            }),
            Role::Follower => None,
        }
    }

    /// Watches the role (the sealer and the scheduler wait for leadership).
    pub fn watch(&self) -> watch::Receiver<Role> {
        self.inner.role.subscribe()
    }

    /// Waits until this node leads; its fence.
    pub async fn leading(&self) -> Fence {
        let mut rx = self.watch();
        loop {
            if let Some(f) = self.fence() {
                return f;
            }
            if rx.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }

    pub fn status(&self) -> ClusterStatus {
        self.inner
            .status
            .lock()
            .map(|s| s.clone())
            .unwrap_or_default()
    }

    /// One turn of the lease: take or renew it, or follow.
    async fn tick(&self) -> bool {
        let i = &self.inner;
        let lease_ms = i.lease.as_millis() as i64;
        let r = i
            .catalog
            .acquire_lease(&i.node, &i.instance, lease_ms, !i.shared)
            .await;
        let role = match &r {
            Ok(Some(epoch)) => Role::Leader(*epoch),
            Ok(None) => Role::Follower,
            Err(_) => return false,
        };
        let before = self.role();
        if before != role {
            match &role {
                Role::Leader(e) => {
                    tracing::info!(node = %i.node, epoch = e, "leader lease taken: this node seals and renews")
                }
                Role::Follower => {
                    tracing::warn!(node = %i.node, "leader lease lost: another node leads")
                }
            }
        }
        i.role.send_replace(role.clone());
        let leader = match &role {
            Role::Leader(_) => i.node.clone(),
            Role::Follower => i.catalog.lease().await.map(|l| l.node).unwrap_or_default(),
        };
        if let Ok(mut s) = i.status.lock() {
            s.role = match role {
                Role::Leader(_) => "leader".into(),
                Role::Follower => "follower".into(),
            };
            s.epoch = match role {
                Role::Leader(e) => Some(e),
                Role::Follower => None,
            };
            s.leader = leader;
            s.last_error = None;
        }
        true
    }

    async fn worker(self, mut stop: crate::supervisor::StopSignal) {
        let every = self.inner.lease / 3;
        let mut last_ok = tokio::time::Instant::now();
        loop {
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = stop.stopped() => break,
            }
            if self.tick().await {
                last_ok = tokio::time::Instant::now();
                continue;
            }
            let e = "the catalog cannot be reached to renew the leader lease";
            if let Ok(mut s) = self.inner.status.lock() {
                s.last_error = Some(e.into());
            }
            // step down before the lease may run out for the others
            if last_ok.elapsed() >= self.inner.lease * 2 / 3 && self.fence().is_some() {
                tracing::warn!(node = %self.inner.node, "{e}: stepping down");
                self.inner.role.send_replace(Role::Follower);
            }
        }
        if self.fence().is_some() {
            self.inner.role.send_replace(Role::Follower);
            if let Err(e) = self.inner.catalog.release_lease(&self.inner.instance).await {
                tracing::warn!(error = %e, "leader lease not given up at stop; it runs out");
            }
        }
    }
}
