//! [`Hub`]: the whole server's state on this node.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::watch;

use duplex_pusher::app::Apps;

use super::adapter::Adapter;
use super::app_state::AppState;
use super::cluster::Cluster;
use super::config::{AdapterKind, ServerConfig};
use super::metrics::Metrics;
use super::webhook::{WebhookStats, Webhooks};

/// Every app's state, the server settings, and the shutdown signal.
pub struct Hub {
    /// The settings.
    pub config: ServerConfig,
    /// Apps by id (HTTP API paths).
    by_id: HashMap<String, Arc<AppState>>,
    /// Apps by key (WebSocket paths).
    by_key: HashMap<String, Arc<AppState>>,
    /// Open WebSocket connections across apps.
    connections: Arc<AtomicU64>,
    /// Flips to `true` when the server starts shutting down.
    shutdown: watch::Sender<bool>,
    /// Counters and histograms for `/metrics`.
    pub metrics: Metrics,
    /// Webhook outcomes, shared by the apps' senders.
    pub webhook_stats: Arc<WebhookStats>,
    /// Where shared state lives: this process alone, or a cluster.
    pub adapter: Adapter,
    /// The TLS acceptor, when serving TLS; replaced on reload.
    tls: std::sync::RwLock<Option<duplex::tls::TlsAcceptor>>,
    /// The demo pages' state (leaderboard, chat histories).
    pub(crate) demo: super::demo::Demo,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("apps", &self.by_id.len())
            .field("connections", &self.connection_count())
            .field("shutting_down", &self.is_shutting_down())
            .finish_non_exhaustive()
    }
}

/// A guard for a process-wide connection slot.
#[derive(Debug)]
pub struct ProcessSlot(Arc<AtomicU64>);

impl Drop for ProcessSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Hub {
    /// Builds the state for `apps` (must be called inside a tokio runtime:
    /// webhook senders start their tasks). A Redis adapter's tasks start
    /// separately, with [`Hub::start_adapter`].
    pub fn new(config: ServerConfig, apps: &Apps) -> Result<Arc<Self>, redis::RedisError> {
        let webhook_stats = Arc::new(WebhookStats::default());
        let mut by_id = HashMap::new();
        let mut by_key = HashMap::new();
        for app in apps.iter() {
            let state = Arc::new(AppState::new(
                app.clone(),
                Webhooks::spawn(app, webhook_stats.clone()),
                config.send_queue_frames,
            ));
            by_id.insert(app.id.clone(), state.clone());
            by_key.insert(app.key.clone(), state);
        }
        let adapter = match config.adapter {
            AdapterKind::Memory => Adapter::Memory,
            AdapterKind::Redis => Adapter::Redis(Arc::new(Cluster::new(&config.redis)?)),
        };
        Ok(Arc::new(Hub {
            config,
            by_id,
            by_key,
            connections: Arc::new(AtomicU64::new(0)),
            shutdown: watch::channel(false).0,
            metrics: Metrics::default(),
            webhook_stats,
            adapter,
            tls: std::sync::RwLock::new(None),
            demo: super::demo::Demo::default(),
        }))
    }

    /// Starts the adapter's background work (a cluster node's bus listener
    /// and heartbeat).
    pub fn start_adapter(self: &Arc<Self>) {
        if let Adapter::Redis(cluster) = &self.adapter {
            cluster.start(self);
        }
    }

    /// Leaves the cluster, if in one: this node's remaining subscriptions
    /// and members are removed at once rather than after the node timeout.
    pub async fn stop_adapter(&self) {
        if let Adapter::Redis(cluster) = &self.adapter {
            cluster.leave(self).await;
        }
    }

    /// Loads (or reloads) the TLS certificate and key named in the config.
    /// On error the previous certificate stays in use.
    pub fn load_tls(&self) -> Result<(), duplex::Error> {
        let (Some(cert), Some(key)) = (&self.config.tls_cert, &self.config.tls_key) else {
            return Ok(());
        };
        let config = duplex::tls::server_config_from_pem(cert, key)?;
        *self.tls.write().unwrap_or_else(|e| e.into_inner()) =
            Some(duplex::tls::TlsAcceptor::from(config));
        Ok(())
    }

    /// The current TLS acceptor, if serving TLS.
    pub fn tls_acceptor(&self) -> Option<duplex::tls::TlsAcceptor> {
        self.tls.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The app with this id.
    pub fn app_by_id(&self, id: &str) -> Option<&Arc<AppState>> {
        self.by_id.get(id)
    }

    /// The app with this key.
    pub fn app_by_key(&self, key: &str) -> Option<&Arc<AppState>> {
        self.by_key.get(key)
    }

    /// Every app.
    pub fn apps(&self) -> impl Iterator<Item = &Arc<AppState>> {
        self.by_id.values()
    }

    /// Takes a process-wide connection slot, or `None` at the limit.
    pub fn try_connect(&self) -> Option<ProcessSlot> {
        let prev = self.connections.fetch_add(1, Ordering::Relaxed);
        let slot = ProcessSlot(self.connections.clone());
        (prev < self.config.max_connections).then_some(slot)
    }

    /// Open WebSocket connections.
    pub fn connection_count(&self) -> u64 {
        self.connections.load(Ordering::Relaxed)
    }

    /// A receiver that sees `true` once shutdown starts.
    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    /// Starts the shutdown: every connection is told to reconnect elsewhere.
    pub fn begin_shutdown(&self) {
        self.shutdown.send_replace(true);
    }

    /// Whether shutdown has started.
    pub fn is_shutting_down(&self) -> bool {
        *self.shutdown.borrow()
    }
}
