//! `duplex serve`: the Pusher-compatible real-time server.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use duplex_hub::{AdapterKind, Server, ServerConfig};
use duplex_pusher::AppConfig;

/// Options of `duplex serve`. Settings come from the config file, then the
/// environment, then these flags.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on (default 127.0.0.1:6001, or the config file's `listen`).
    #[arg(long, env = "DUPLEX_LISTEN")]
    listen: Option<SocketAddr>,
    /// TOML configuration file (apps, limits, timeouts).
    #[arg(long, env = "DUPLEX_CONFIG")]
    config: Option<PathBuf>,
    /// Seconds to wait for clients to leave after SIGTERM/SIGINT.
    #[arg(long, default_value_t = 10, env = "DUPLEX_DRAIN_SECONDS")]
    drain: u64,
    /// Id of the default app (used when the config has no apps).
    #[arg(long, env = "DUPLEX_APP_ID", default_value = "duplex")]
    app_id: String,
    /// Key of the default app.
    #[arg(long, env = "DUPLEX_APP_KEY", default_value = "duplex-key")]
    app_key: String,
    /// Secret of the default app (default: a random one, printed at start).
    #[arg(long, env = "DUPLEX_APP_SECRET", hide_env_values = true)]
    app_secret: Option<String>,
    /// Do not serve the demo pages.
    #[arg(long)]
    no_demo: bool,
    /// PEM certificate chain: serve wss:// and https:// (reloaded on SIGHUP).
    #[arg(long, env = "DUPLEX_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert.
    #[arg(long, env = "DUPLEX_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Where shared state lives: `memory` (this process; the default) or
    /// `redis` (several nodes behind a load balancer, sharing events,
    /// presence and counts through Redis).
    #[arg(long, env = "DUPLEX_ADAPTER", value_enum)]
    adapter: Option<AdapterArg>,
    /// Redis URL for `--adapter redis` (default redis://127.0.0.1:6379).
    #[arg(long, env = "DUPLEX_REDIS_URL", hide_env_values = true)]
    redis_url: Option<String>,
}

/// The `--adapter` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum AdapterArg {
    /// One process.
    Memory,
    /// A cluster over Redis.
    Redis,
}

/// Loads the configuration, then serves until SIGTERM or SIGINT.
pub fn run(args: ServeArgs) -> Result<()> {
    let config = match load_config(&args) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("duplex serve: {e:#}");
            std::process::exit(64); // EX_USAGE: a bad configuration
        }
    };
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(serve(config, Duration::from_secs(args.drain)))
}

fn load_config(args: &ServeArgs) -> Result<ServerConfig> {
    let mut config = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            ServerConfig::from_toml(&text).with_context(|| format!("in {}", path.display()))?
        }
        None => ServerConfig::default(),
    };
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    if args.no_demo {
        config.demo = false;
    }
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        config.tls_cert = Some(cert.clone());
        config.tls_key = Some(key.clone());
    }
    match args.adapter {
        Some(AdapterArg::Memory) => config.adapter = AdapterKind::Memory,
        Some(AdapterArg::Redis) => config.adapter = AdapterKind::Redis,
        None => {}
    }
    if let Some(url) = &args.redis_url {
        if config.adapter != AdapterKind::Redis {
            anyhow::bail!(
                "--redis-url needs --adapter redis (or `adapter = \"redis\"` in the config)"
            );
        }
        config.redis.url = url.clone();
    }
    if config.apps.is_empty() {
        if config.adapter == AdapterKind::Redis && args.app_secret.is_none() {
            anyhow::bail!(
                "every node of a cluster needs the same app secret: set --app-secret (or DUPLEX_APP_SECRET), or configure apps in --config"
            );
        }
        let secret = args.app_secret.clone().unwrap_or_else(random_secret);
        let mut app = AppConfig::new(args.app_id.clone(), args.app_key.clone(), secret);
        app.client_events = true;
        println!(
            "default app: id={} key={} secret={}",
            app.id, app.key, app.secret
        );
        config.apps.push(app);
    }
    config.validate()?;
    Ok(config)
}

fn random_secret() -> String {
    use rand::Rng;
    let bytes: [u8; 16] = rand::rng().random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn serve(config: ServerConfig, drain: Duration) -> Result<()> {
    let tls = config.tls_cert.is_some();
    let server = Server::bind(config).await?;
    let addr = server.local_addr()?;
    let (http, ws) = if tls {
        ("https", "wss")
    } else {
        ("http", "ws")
    };
    eprintln!("duplex serve: listening on {http}://{addr} (WebSocket at {ws}://{addr}/app/{{key}}, HTTP API at /apps/{{id}})");
    #[cfg(unix)]
    if tls {
        let hub = server.hub().clone();
        let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
        tokio::spawn(async move {
            while hangup.recv().await.is_some() {
                match hub.load_tls() {
                    Ok(()) => tracing::info!("TLS certificate reloaded"),
                    Err(e) => {
                        tracing::error!("TLS certificate reload failed, keeping the old one: {e}")
                    }
                }
            }
        });
    }
    server.run(shutdown_signal(), drain).await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => return std::future::pending().await,
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
