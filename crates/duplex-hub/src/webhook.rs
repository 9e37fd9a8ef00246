//! Webhook delivery: batched, signed, retried with backoff, and never in
//! the way of message delivery.
//!
//! Events are queued without waiting (a full queue drops the event with a
//! warning), gathered for a short while into one body
//! `{"time_ms":…,"events":[…]}`, and POSTed to each webhook URL that wants
//! some of them, signed with `X-Pusher-Key` and `X-Pusher-Signature`
//! (HMAC-SHA256 of the body with the app secret). A failed delivery (network
//! error or non-2xx) is retried with exponential backoff for up to five
//! minutes, as Pusher does.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::Full;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use duplex_pusher::app::{AppConfig, WebhookConfig, WebhookEvent};
use duplex_pusher::auth::sign;

/// Events waiting to be batched, per app; beyond it events are dropped.
const QUEUE: usize = 10_000;
/// How long events are gathered into one request.
const BATCH_WINDOW: Duration = Duration::from_millis(50);
/// Most events in one request.
const BATCH_MAX: usize = 100;
/// How long a failing delivery is retried.
const RETRY_FOR: Duration = Duration::from_secs(300);
/// Timeout of one delivery attempt.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// One webhook event: its type and its JSON object.
#[derive(Debug, Clone)]
pub struct WebhookEventData {
    kind: WebhookEvent,
    body: Value,
}

impl WebhookEventData {
    /// `channel_occupied` / `channel_vacated`.
    pub fn channel(kind: WebhookEvent, channel: &str) -> Self {
        WebhookEventData {
            kind,
            body: json!({ "name": kind.name(), "channel": channel }),
        }
    }

    /// `member_added` / `member_removed`.
    pub fn member(kind: WebhookEvent, channel: &str, user_id: &str) -> Self {
        WebhookEventData {
            kind,
            body: json!({ "name": kind.name(), "channel": channel, "user_id": user_id }),
        }
    }

    /// `cache_miss`.
    pub fn cache_miss(channel: &str) -> Self {
        Self::channel(WebhookEvent::CacheMiss, channel)
    }

    /// `client_event`, with `user_id` on presence channels.
    pub fn client_event(
        channel: &str,
        event: &str,
        data: Option<&str>,
        socket_id: &str,
        user_id: Option<&str>,
    ) -> Self {
        let mut body = json!({
            "name": "client_event", "channel": channel, "event": event,
            "data": data.unwrap_or(""), "socket_id": socket_id,
        });
        if let (Some(user_id), Some(obj)) = (user_id, body.as_object_mut()) {
            obj.insert("user_id".into(), Value::String(user_id.into()));
        }
        WebhookEventData {
            kind: WebhookEvent::ClientEvent,
            body,
        }
    }
}

/// Counters of webhook outcomes, for metrics.
#[derive(Debug, Default)]
pub struct WebhookStats {
    /// Requests answered with 2xx.
    pub delivered: AtomicU64,
    /// Attempts that failed and were retried.
    pub retried: AtomicU64,
    /// Requests given up after retrying.
    pub failed: AtomicU64,
    /// Events dropped because the queue was full.
    pub dropped: AtomicU64,
}

/// The webhook sender of one app.
#[derive(Debug)]
pub struct Webhooks {
    tx: mpsc::Sender<WebhookEventData>,
    wanted: HashSet<WebhookEvent>,
    stats: Arc<WebhookStats>,
}

impl Webhooks {
    /// Starts the delivery task of `app` (on the current tokio runtime);
    /// `None` if the app has no webhooks.
    pub fn spawn(app: &AppConfig, stats: Arc<WebhookStats>) -> Option<Self> {
        if app.webhooks.is_empty() {
            return None;
        }
        let (tx, rx) = mpsc::channel(QUEUE);
        let wanted = app
            .webhooks
            .iter()
            .flat_map(|w| w.event_types.iter().copied())
            .collect();
        tokio::spawn(deliver_loop(app.clone(), rx, stats.clone()));
        Some(Webhooks { tx, wanted, stats })
    }

    /// Whether some webhook wants events of `kind`.
    pub fn wants(&self, kind: WebhookEvent) -> bool {
        self.wanted.contains(&kind)
    }

    /// Queues an event without waiting.
    pub fn emit(&self, event: WebhookEventData) {
        if !self.wants(event.kind) {
            return;
        }
        if self.tx.try_send(event).is_err() {
            self.stats.dropped.fetch_add(1, Ordering::Relaxed);
            tracing::warn!("webhook queue full: event dropped");
        }
    }
}

type HttpClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// An HTTP client for `http://` and `https://` webhook URLs (TLS with the
/// Mozilla root certificates).
fn http_client() -> HttpClient {
    let mut tls = (*duplex::tls::default_client_config()).clone();
    // hyper-rustls sets ALPN itself (and refuses a config that has it).
    tls.alpn_protocols.clear();
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .build();
    Client::builder(TokioExecutor::new()).build(connector)
}

async fn deliver_loop(
    app: AppConfig,
    mut rx: mpsc::Receiver<WebhookEventData>,
    stats: Arc<WebhookStats>,
) {
    let client = http_client();
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        let deadline = tokio::time::Instant::now() + BATCH_WINDOW;
        while batch.len() < BATCH_MAX {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(event)) => batch.push(event),
                _ => break,
            }
        }
        for hook in &app.webhooks {
            let events: Vec<&Value> = batch
                .iter()
                .filter(|e| hook.event_types.contains(&e.kind))
                .map(|e| &e.body)
                .collect();
            if events.is_empty() {
                continue;
            }
            let time_ms = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64);
            let body = json!({ "time_ms": time_ms, "events": events }).to_string();
            let signature = sign(&app.secret, &body);
            tokio::spawn(deliver(
                client.clone(),
                hook.clone(),
                app.key.clone(),
                signature,
                Bytes::from(body),
                stats.clone(),
            ));
        }
    }
}

async fn deliver(
    client: HttpClient,
    hook: WebhookConfig,
    key: String,
    signature: String,
    body: Bytes,
    stats: Arc<WebhookStats>,
) {
    let started = tokio::time::Instant::now();
    let mut backoff = Duration::from_secs(1);
    loop {
        match attempt(&client, &hook.url, &key, &signature, body.clone()).await {
            Ok(()) => {
                stats.delivered.fetch_add(1, Ordering::Relaxed);
                return;
            }
            Err(e) if started.elapsed() + backoff > RETRY_FOR => {
                stats.failed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(url = %hook.url, "webhook delivery failed, giving up: {e}");
                return;
            }
            Err(e) => {
                stats.retried.fetch_add(1, Ordering::Relaxed);
                tracing::info!(url = %hook.url, "webhook delivery failed, retrying in {backoff:?}: {e}");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(60));
            }
        }
    }
}

async fn attempt(
    client: &HttpClient,
    url: &str,
    key: &str,
    signature: &str,
    body: Bytes,
) -> Result<(), String> {
    let request = http::Request::post(url)
        .header(http::header::CONTENT_TYPE, "application/json")
        .header("X-Pusher-Key", key)
        .header("X-Pusher-Signature", signature)
        .body(Full::new(body))
        .map_err(|e| e.to_string())?;
    let response = tokio::time::timeout(ATTEMPT_TIMEOUT, client.request(request))
        .await
        .map_err(|_| "timed out".to_string())?
        .map_err(|e| e.to_string())?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(format!("HTTP {}", response.status()))
    }
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn the_http_client_builds() {
        // hyper-rustls panics on a TLS config with ALPN already set.
        let _client = super::http_client();
    }
}
