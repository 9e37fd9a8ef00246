//! The server's configuration: a TOML file, with every setting defaulted.
//!
//! ```toml
//! listen = "127.0.0.1:6001"
//! activity_timeout = 120
//!
//! [[apps]]
//! id = "1"
//! key = "app-key"
//! secret = "app-secret"
//! ```

use std::net::SocketAddr;

use serde::Deserialize;

use duplex_pusher::app::{AppConfig, AppConfigError, Apps};

/// Settings of `duplex serve`. Unknown fields are errors.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address to listen on for WebSocket and HTTP API traffic.
    pub listen: SocketAddr,
    /// Seconds of silence after which a ping is due (sent to clients in
    /// `connection_established`; pusher-js pings after it, and so do we).
    pub activity_timeout: u32,
    /// Seconds to wait for a pong before closing with 4201.
    pub pong_timeout: u32,
    /// Seconds an app that requires user authentication waits for
    /// `pusher:signin` before closing with 4009.
    pub signin_timeout: u32,
    /// Seconds a client may take to send its HTTP request head.
    pub handshake_timeout: u32,
    /// Frames that may wait for one slow connection; when full, the client
    /// is disconnected with 4100.
    pub send_queue_frames: usize,
    /// The kernel send buffer of each connection (`SO_SNDBUF`), in bytes.
    /// Unset, Linux grows it up to `net.ipv4.tcp_wmem`'s maximum (4 MiB by
    /// default) for a client that stops reading, which both holds that much
    /// kernel memory and delays noticing the slow client; a fixed size bounds
    /// both, at some cost to throughput on long fat links.
    pub socket_send_buffer_bytes: Option<usize>,
    /// Largest HTTP API request body, in bytes (413 beyond).
    pub max_request_body_bytes: usize,
    /// Largest HTTP request head (request line and headers), in bytes; a
    /// larger one is refused with 431. At least 8192.
    pub max_request_head_bytes: usize,
    /// How far an HTTP API request's `auth_timestamp` may be from now, in seconds.
    pub api_timestamp_window: u64,
    /// Connections across all apps; more are refused with 4100.
    pub max_connections: u64,
    /// Channels one connection may be subscribed to at once; more are
    /// refused with `pusher:subscription_error` (`LimitReached`).
    pub max_channels_per_connection: usize,
    /// Frames one connection may send per second (bursts up to the same
    /// number); a flood is closed with 4301.
    pub max_messages_per_second: u32,
    /// Accept permessage-deflate when clients offer it. Off by default: a
    /// compressor costs ~380 KB per connection with context takeover, and
    /// fan-out would compress each event once per subscriber.
    pub compression: bool,
    /// Serve the demo pages at `/`.
    pub demo: bool,
    /// PEM certificate chain: serve `wss://` and `https://` (with `tls_key`).
    /// Reloaded from disk on SIGHUP.
    pub tls_cert: Option<std::path::PathBuf>,
    /// PEM private key for `tls_cert`.
    pub tls_key: Option<std::path::PathBuf>,
    /// Where shared state lives: `memory` (this process alone, the
    /// default) or `redis` (a cluster of nodes; see `[redis]`).
    pub adapter: AdapterKind,
    /// The Redis adapter's settings.
    pub redis: RedisConfig,
    /// The apps. Without any, `duplex serve` runs one default app.
    pub apps: Vec<AppConfig>,
}

/// Which adapter a server uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum AdapterKind {
    /// One node; all state in this process.
    #[default]
    Memory,
    /// Several nodes sharing state and events through Redis.
    Redis,
}

/// Settings of the Redis adapter (`[redis]` in the TOML file).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RedisConfig {
    /// `redis://[user:password@]host:port[/db]` (TLS to Redis, `rediss://`, is
    /// not built in).
    pub url: String,
    /// Prefix of every key and of the pub/sub channel, so that several
    /// clusters can share one Redis.
    pub prefix: String,
    /// Milliseconds between a node's heartbeats (and its checks for dead
    /// nodes and for a Redis that came back).
    pub heartbeat_interval_ms: u64,
    /// Milliseconds without a heartbeat after which a node is dead: its
    /// subscriptions and members are removed (with `member_removed` and
    /// webhooks). At least three heartbeat intervals.
    pub node_timeout_ms: u64,
    /// Milliseconds a Redis command may take before Redis is considered
    /// unreachable (the node then serves its own connections alone until
    /// it is back).
    pub command_timeout_ms: u64,
}

impl Default for RedisConfig {
    fn default() -> Self {
        RedisConfig {
            url: "redis://127.0.0.1:6379".into(),
            prefix: "duplex".into(),
            heartbeat_interval_ms: 1000,
            node_timeout_ms: 10_000,
            command_timeout_ms: 2000,
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 6001)),
            activity_timeout: 120,
            pong_timeout: 30,
            signin_timeout: 30,
            handshake_timeout: 10,
            send_queue_frames: 1024,
            socket_send_buffer_bytes: None,
            max_request_body_bytes: 1 << 20,
            max_request_head_bytes: 16 * 1024,
            api_timestamp_window: duplex_pusher::api_auth::DEFAULT_TIMESTAMP_WINDOW_SECS,
            max_connections: 100_000,
            max_messages_per_second: 100,
            max_channels_per_connection: 1000,
            compression: false,
            demo: true,
            tls_cert: None,
            tls_key: None,
            adapter: AdapterKind::Memory,
            redis: RedisConfig::default(),
            apps: Vec::new(),
        }
    }
}

/// Why a configuration was rejected.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The TOML is invalid or has unknown fields.
    #[error("invalid configuration: {0}")]
    Toml(String),
    /// An app is invalid.
    #[error(transparent)]
    App(#[from] AppConfigError),
    /// A setting is out of range.
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

impl ServerConfig {
    /// Parses a TOML configuration.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Toml(e.to_string()))
    }

    /// Checks every setting and app; returns the app registry.
    pub fn validate(&self) -> Result<Apps, ConfigError> {
        for (name, value) in [
            ("activity_timeout", u64::from(self.activity_timeout)),
            ("pong_timeout", u64::from(self.pong_timeout)),
            ("signin_timeout", u64::from(self.signin_timeout)),
            ("handshake_timeout", u64::from(self.handshake_timeout)),
            ("send_queue_frames", self.send_queue_frames as u64),
            ("max_request_body_bytes", self.max_request_body_bytes as u64),
            ("max_connections", self.max_connections),
            (
                "max_messages_per_second",
                u64::from(self.max_messages_per_second),
            ),
            (
                "max_channels_per_connection",
                self.max_channels_per_connection as u64,
            ),
        ] {
            if value == 0 {
                return Err(ConfigError::Invalid(format!("`{name}` must be at least 1")));
            }
        }
        if self.max_request_head_bytes < 8192 {
            return Err(ConfigError::Invalid(
                "`max_request_head_bytes` must be at least 8192".into(),
            ));
        }
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            return Err(ConfigError::Invalid(
                "`tls_cert` and `tls_key` go together".into(),
            ));
        }
        let redis = &self.redis;
        if self.adapter == AdapterKind::Redis {
            if redis.heartbeat_interval_ms == 0 || redis.command_timeout_ms == 0 {
                return Err(ConfigError::Invalid(
                    "`redis.heartbeat_interval_ms` and `redis.command_timeout_ms` must be at least 1"
                        .into(),
                ));
            }
            if redis.node_timeout_ms < 3 * redis.heartbeat_interval_ms {
                return Err(ConfigError::Invalid(
                    "`redis.node_timeout_ms` must be at least three heartbeat intervals".into(),
                ));
            }
            if redis.prefix.is_empty() || redis.prefix.contains(char::is_whitespace) {
                return Err(ConfigError::Invalid(
                    "`redis.prefix` must be non-empty, without spaces".into(),
                ));
            }
            redis::Client::open(redis.url.as_str())
                .map_err(|e| ConfigError::Invalid(format!("`redis.url`: {e}")))?;
        }
        if self.apps.is_empty() {
            return Err(ConfigError::Invalid("no apps configured".into()));
        }
        Ok(Apps::new(self.apps.clone())?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_full_config() {
        let config = ServerConfig::from_toml(
            r#"
            listen = "127.0.0.1:7000"
            activity_timeout = 30
            [[apps]]
            id = "1"
            key = "k"
            secret = "s"
            client_events = true
            "#,
        )
        .unwrap();
        assert_eq!(config.listen.port(), 7000);
        assert_eq!(config.activity_timeout, 30);
        assert_eq!(config.validate().unwrap().len(), 1);
    }

    #[test]
    fn rejects_unknown_fields_and_zero_limits() {
        assert!(ServerConfig::from_toml("listn = \"127.0.0.1:1\"").is_err());
        let mut config = ServerConfig::from_toml("[[apps]]\nid='1'\nkey='k'\nsecret='s'").unwrap();
        config.activity_timeout = 0;
        assert!(config.validate().is_err());
        assert!(ServerConfig::default().validate().is_err(), "no apps");
    }
}
