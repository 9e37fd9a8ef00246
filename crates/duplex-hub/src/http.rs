//! The HTTP side: one listener for WebSocket upgrades (`/app/{key}`), the
//! HTTP API (`/apps/{id}/…`), health and metrics, and the demo pages.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use duplex::Acceptor;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;

use super::hub::Hub;
use super::session::{self, ConnectQuery};
use super::{api, demo};

/// The response type of every handler.
pub type Response = http::Response<Full<Bytes>>;

/// A response with a body and content type.
pub fn respond(status: u16, content_type: &str, body: impl Into<Bytes>) -> Response {
    http::Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, content_type)
        .body(Full::new(body.into()))
        .unwrap_or_else(|_| http::Response::new(Full::new(Bytes::new())))
}

/// A JSON response.
pub fn json(status: u16, body: impl Into<Bytes>) -> Response {
    respond(status, "application/json", body)
}

/// A JSON error body `{"error": message}`.
pub fn json_error(status: u16, message: &str) -> Response {
    json(status, serde_json::json!({ "error": message }).to_string())
}

/// Accepts connections until shutdown begins, then stops accepting and
/// returns (connections in progress carry on and are told to reconnect).
pub async fn serve(hub: Arc<Hub>, listener: TcpListener) {
    let acceptor = Arc::new(acceptor_for(&hub));
    let mut shutdown = hub.shutdown_signal();
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => return,
        };
        let _ = tcp.set_nodelay(true);
        if let Some(bytes) = hub.config.socket_send_buffer_bytes {
            if let Err(e) = socket2::SockRef::from(&tcp).set_send_buffer_size(bytes) {
                tracing::warn!("cannot set the socket send buffer: {e}");
            }
        }
        let hub = hub.clone();
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            match hub.tls_acceptor() {
                Some(tls) => {
                    let timeout = Duration::from_secs(hub.config.handshake_timeout.into());
                    match tokio::time::timeout(timeout, tls.accept(tcp)).await {
                        Ok(Ok(stream)) => serve_connection(hub, acceptor, stream, peer).await,
                        Ok(Err(e)) => tracing::debug!(%peer, "TLS handshake failed: {e}"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                }
                None => serve_connection(hub, acceptor, tcp, peer).await,
            }
        });
    }
}

async fn serve_connection<I>(hub: Arc<Hub>, acceptor: Arc<Acceptor>, io: I, peer: SocketAddr)
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let header_timeout = Duration::from_secs(hub.config.handshake_timeout.into());
    let max_head = hub.config.max_request_head_bytes;
    let service = service_fn(move |req| handle(hub.clone(), acceptor.clone(), req, peer));
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .max_buf_size(max_head)
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    if let Err(e) = connection.await {
        tracing::debug!(%peer, "HTTP connection ended: {e}");
    }
}

/// WebSocket settings: messages may carry the largest event any app allows,
/// plus the envelope.
fn acceptor_for(hub: &Hub) -> Acceptor {
    let largest = hub
        .apps()
        .map(|a| a.config.limits.max_event_payload_bytes)
        .max()
        .unwrap_or(10 * 1024);
    let limit = largest + 16 * 1024;
    let deflate = hub.config.compression.then(duplex::DeflateConfig::default);
    Acceptor::new()
        .config(
            duplex::Config::default()
                .max_message_size(limit)
                .max_frame_size(limit)
                .deflate(deflate),
        )
        .handshake_timeout(Duration::from_secs(hub.config.handshake_timeout.into()))
}

async fn handle(
    hub: Arc<Hub>,
    acceptor: Arc<Acceptor>,
    mut req: http::Request<Incoming>,
    peer: SocketAddr,
) -> Result<Response, Infallible> {
    let path = req.uri().path().to_string();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let response = match (req.method().as_str(), segments.as_slice()) {
        (_, ["app", key]) => upgrade(hub, &acceptor, &mut req, key, peer),
        (_, ["apps", ..]) | (_, ["users", _, "terminate_connections"]) => {
            api::handle(hub, req).await
        }
        ("GET", ["healthz"]) => respond(200, "text/plain", "ok\n"),
        ("GET", ["readyz"]) if hub.is_shutting_down() => {
            respond(503, "text/plain", "shutting down\n")
        }
        ("GET", ["readyz"]) => respond(200, "text/plain", "ready\n"),
        ("GET", ["metrics"]) => metrics(&hub),
        _ if hub.config.demo => demo::handle(hub, req, peer).await,
        _ => respond(404, "text/plain", "not found\n"),
    };
    Ok(response)
}

fn upgrade(
    hub: Arc<Hub>,
    acceptor: &Acceptor,
    req: &mut http::Request<Incoming>,
    key: &str,
    peer: SocketAddr,
) -> Response {
    if !duplex::hyper::is_upgrade_request(req) {
        return respond(
            426,
            "text/plain",
            "this is a WebSocket endpoint: connect with Upgrade: websocket\n",
        );
    }
    match duplex::hyper::upgrade::<_, Full<Bytes>>(req, acceptor) {
        Ok((response, websocket)) => {
            let key = key.to_string();
            let mut query = ConnectQuery::parse(req.uri().query());
            query.origin = req
                .headers()
                .get(http::header::ORIGIN)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let upgraded = async move {
                websocket
                    .await
                    .map_err(|e| tracing::debug!(%peer, "upgrade failed: {e}"))
                    .ok()
            };
            tokio::spawn(session::run(hub, key, query, upgraded));
            response
        }
        Err(e) => {
            let mut response = respond(e.http_status(), "text/plain", format!("{e}\n"));
            for (name, value) in e.response_headers() {
                response
                    .headers_mut()
                    .insert(*name, http::HeaderValue::from_static(value));
            }
            response
        }
    }
}

fn metrics(hub: &Hub) -> Response {
    use std::fmt::Write;
    let load = |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
    let mut channels = 0;
    let mut per_app = String::new();
    let series: [(&str, &str, &str); 7] = [
        (
            "duplex_app_connections",
            "gauge",
            "Open connections per app",
        ),
        ("duplex_app_channels", "gauge", "Occupied channels per app"),
        (
            "duplex_app_messages_in_total",
            "counter",
            "Frames received per app",
        ),
        (
            "duplex_app_bytes_in_total",
            "counter",
            "Bytes received per app",
        ),
        (
            "duplex_app_messages_out_total",
            "counter",
            "Frames sent per app",
        ),
        (
            "duplex_app_bytes_out_total",
            "counter",
            "Bytes sent per app",
        ),
        (
            "duplex_app_api_events_total",
            "counter",
            "Events published through the HTTP API per app",
        ),
    ];
    let apps: Vec<_> = hub.apps().collect();
    for (i, (name, kind, help)) in series.iter().enumerate() {
        let _ = writeln!(per_app, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for app in &apps {
            let c = &app.counters;
            let value = match i {
                0 => app.connection_count(),
                1 => {
                    let n = app.channels_with_prefix("").len() as u64;
                    channels += n;
                    n
                }
                2 => load(&c.messages_in),
                3 => load(&c.bytes_in),
                4 => load(&c.messages_out),
                5 => load(&c.bytes_out),
                _ => load(&c.api_events),
            };
            let _ = writeln!(per_app, "{name}{{app=\"{}\"}} {value}", app.config.id);
        }
    }
    let stats = &hub.webhook_stats;
    let mut text = hub.metrics.render(&[
        (
            "duplex_connections",
            "Open WebSocket connections",
            hub.connection_count(),
        ),
        ("duplex_channels", "Occupied channels", channels),
        (
            "duplex_webhooks_delivered",
            "Webhook requests delivered",
            load(&stats.delivered),
        ),
        (
            "duplex_webhooks_retried",
            "Webhook attempts retried",
            load(&stats.retried),
        ),
        (
            "duplex_webhooks_failed",
            "Webhook requests given up",
            load(&stats.failed),
        ),
        (
            "duplex_webhooks_dropped",
            "Webhook events dropped (queue full)",
            load(&stats.dropped),
        ),
    ]);
    text.push_str(&per_app);
    hub.adapter.render_metrics(&mut text);
    respond(200, "text/plain; version=0.0.4", text)
}
