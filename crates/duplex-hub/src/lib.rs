//! A Pusher Channels (protocol 7) compatible real-time server over tokio.
//!
//! pusher-js, Laravel Echo and the Pusher server SDKs work against it
//! unchanged: public, private, presence and cache channels, client events,
//! user sign-in, the signed HTTP API, webhooks and Prometheus metrics. One
//! process keeps its state in memory; several share it over Redis
//! ([`AdapterKind::Redis`]). The protocol's rules (messages, authentication,
//! signatures, apps and limits, presence) are the sans-I/O `duplex-pusher`
//! crate; this crate is the server that drives them.
//!
//! [`Server::bind`] validates the configuration and binds the listener;
//! [`Server::run`] serves until the shutdown future completes, then tells
//! every client to reconnect (4200) and waits for them to go, up to a drain
//! time.
//!
//! ```
//! use duplex_hub::{Server, ServerConfig};
//! use duplex_pusher::AppConfig;
//! use futures_util::StreamExt;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let config = ServerConfig {
//!     listen: "127.0.0.1:0".parse()?,
//!     apps: vec![AppConfig::new("1", "app-key", "app-secret")],
//!     ..ServerConfig::default()
//! };
//! let server = Server::bind(config).await?;
//! let addr = server.local_addr()?;
//! let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
//! let serving = tokio::spawn(server.run(
//!     async { let _ = stopped.await; },
//!     std::time::Duration::from_secs(1),
//! ));
//!
//! // A client connects as pusher-js does and is given its socket id.
//! let (mut ws, _) = duplex::connect(&format!("ws://{addr}/app/app-key?protocol=7")).await?;
//! let hello = ws.next().await.unwrap()?;
//! let hello = std::str::from_utf8(hello.as_payload())?;
//! assert!(hello.contains("pusher:connection_established"));
//!
//! drop(ws);
//! let _ = stop.send(());
//! serving.await?;
//! # Ok(())
//! # }
//! ```

mod adapter;
mod api;
mod app_state;
mod cluster;
mod config;
mod conn;
mod demo;
mod http;
mod hub;
mod metrics;
mod session;
mod webhook;

pub use adapter::Adapter;
pub use app_state::{AppState, ChannelStats, ConnectionSlot};
pub use cluster::{Cluster, ClusterStats, Unavailable};
pub use config::{AdapterKind, ConfigError, RedisConfig, ServerConfig};
pub use hub::Hub;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

/// A bound server, ready to run.
#[derive(Debug)]
pub struct Server {
    hub: Arc<Hub>,
    listener: TcpListener,
}

impl Server {
    /// Validates `config` and binds its listen address (inside a tokio runtime).
    pub async fn bind(config: ServerConfig) -> Result<Server, BindError> {
        let apps = config.validate()?;
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|e| BindError::Io(config.listen, e))?;
        let hub = Hub::new(config, &apps).map_err(BindError::Redis)?;
        hub.load_tls().map_err(BindError::Tls)?;
        hub.start_adapter();
        Ok(Server { hub, listener })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The shared state (for embedding and tests).
    pub fn hub(&self) -> &Arc<Hub> {
        &self.hub
    }

    /// Serves until `shutdown` completes; then stops accepting, tells every
    /// client to reconnect, and waits up to `drain` for connections to close.
    pub async fn run(self, shutdown: impl Future<Output = ()>, drain: Duration) {
        let hub = self.hub.clone();
        let serving = tokio::spawn(http::serve(hub.clone(), self.listener));
        shutdown.await;
        tracing::info!(
            "shutting down: telling {} clients to reconnect",
            hub.connection_count()
        );
        hub.begin_shutdown();
        let _ = serving.await;
        let deadline = tokio::time::Instant::now() + drain;
        while hub.connection_count() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        hub.stop_adapter().await;
        tracing::info!(remaining = hub.connection_count(), "shutdown complete");
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BindError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The address could not be bound.
    #[error("cannot listen on {0}: {1}")]
    Io(SocketAddr, std::io::Error),
    /// The TLS certificate or key could not be loaded.
    #[error("TLS: {0}")]
    Tls(duplex::Error),
    /// The Redis adapter could not be set up.
    #[error("redis: {0}")]
    Redis(redis::RedisError),
}
