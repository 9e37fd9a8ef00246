//! Fanout mode: subscribers on one channel of `duplex serve`, events
//! published through its HTTP API, and the time from publish to receipt.
//! With `--node-url`, the subscribers are spread over a cluster's nodes and
//! every event crosses from the publishing node to the others. With
//! `--server-pid`, also the servers' CPU time in the window and their RSS
//! per subscriber (read once all are subscribed, before any event).
//!
//! Each event's data is `"{seq} {micros}"`: its number and when the
//! publisher sent it, in microseconds since the run started (one clock: the
//! publisher and the subscribers are this process).

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use duplex::{ClientBuilder, Message};
use duplex_pusher::api_auth::ApiRequest;
use duplex_pusher::auth::Credentials;
use futures_util::StreamExt;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use serde::Deserialize;
use serde_json::json;
use tokio::task::{JoinSet, LocalSet};

use super::histogram::Histogram;
use super::proc::Pid;
use super::{micros, seconds, BenchArgs, Target};

/// The name of the published events.
const EVENT: &str = "bench";
/// Bound on opening a subscriber and on one API request.
const STEP_TIMEOUT: Duration = Duration::from_secs(30);

/// A Pusher message, as much of it as the subscribers look at.
#[derive(Debug, Deserialize)]
struct Incoming {
    event: String,
    #[serde(default)]
    data: Option<serde_json::Value>,
}

/// What one subscriber has seen.
#[derive(Debug, Default, Clone, Copy)]
struct Seen {
    /// The next event number expected.
    next: u64,
    /// Events skipped over (numbers that never arrived).
    gaps: u64,
    /// Events that arrived after a later one.
    reordered: u64,
}

/// What the tasks share (one thread: cells, no locks).
#[derive(Debug)]
struct Shared {
    /// When the run started: event timestamps count from here.
    epoch: Instant,
    /// Whether deliveries count now.
    measuring: Cell<bool>,
    /// Publish-to-receive times of the deliveries counted.
    latency: RefCell<Histogram>,
    /// Deliveries counted.
    deliveries: Cell<u64>,
    /// Per subscriber.
    seen: RefCell<Vec<Seen>>,
}

/// The result of a fanout run.
#[derive(Debug)]
pub struct FanoutReport {
    /// Wall time measured.
    elapsed: Duration,
    /// Events published in it.
    published: u64,
    /// Events published in all.
    published_total: u64,
    /// Deliveries in it.
    deliveries: u64,
    /// Publish-to-receive times.
    latency: Histogram,
    /// Events that never reached a subscriber, summed over subscribers.
    lost: u64,
    /// Events that reached a subscriber out of order.
    reordered: u64,
    /// Our CPU time in the window.
    self_cpu: Option<Duration>,
    /// The server's CPU time in the window.
    server_cpu: Option<Duration>,
    /// The servers' RSS before the subscribers connected, KiB.
    server_rss_before: Option<u64>,
    /// The servers' RSS with every subscriber subscribed (before any
    /// event), KiB.
    server_rss_subscribed: Option<u64>,
}

/// Subscribes, publishes at the rate asked for, and measures deliveries.
pub async fn run(args: &BenchArgs, target: &Target, nodes: &[Target]) -> Result<FanoutReport> {
    let secret = args
        .app_secret
        .clone()
        .context("fanout mode needs --app-secret (or DUPLEX_APP_SECRET)")?;
    let shared = Rc::new(Shared {
        epoch: Instant::now(),
        measuring: Cell::new(false),
        latency: RefCell::new(Histogram::default()),
        deliveries: Cell::new(0),
        seen: RefCell::new(vec![Seen::default(); args.connections]),
    });
    let urls: Vec<String> = std::iter::once(target)
        .chain(nodes)
        .map(|node| {
            format!(
                "ws://{}/app/{}?protocol=7&client=duplex-bench&version={}",
                node.host_header,
                args.app_key,
                env!("CARGO_PKG_VERSION")
            )
        })
        .collect();
    let servers: Vec<Pid> = args.server_pid.iter().copied().map(Pid::Other).collect();
    let server_rss = || -> Option<u64> {
        if servers.is_empty() {
            return None;
        }
        servers.iter().map(|p| p.rss_kib()).sum()
    };
    let server_rss_before = server_rss();
    let subscribers: Vec<_> = futures_util::stream::iter(0..args.connections)
        .map(|i| {
            let url = &urls[i % urls.len()];
            tokio::time::timeout(STEP_TIMEOUT, subscribe(url, &args.channel))
        })
        .buffer_unordered(args.connect_concurrency)
        .collect()
        .await;
    let mut sockets = Vec::with_capacity(subscribers.len());
    for (i, result) in subscribers.into_iter().enumerate() {
        let socket = result
            .context("timed out")
            .and_then(|r| r)
            .with_context(|| format!("subscriber {} of {}", i + 1, args.connections))?;
        sockets.push(socket);
    }
    let server_rss_subscribed = server_rss();
    let mut publisher = Publisher::connect(target, args, secret).await?;

    let local = LocalSet::new();
    local
        .run_until(async {
            let mut tasks = JoinSet::new();
            for (id, ws) in sockets.into_iter().enumerate() {
                tasks.spawn_local(receive(id, ws, shared.clone()));
            }
            let server_cpu_now = || -> Option<Duration> {
                if servers.is_empty() {
                    return None;
                }
                servers.iter().map(|p| p.cpu_time()).sum()
            };
            let mut ticks =
                tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(args.rate)));
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            let warmup_end = Instant::now() + seconds(args.warmup);
            let mut seq = 0u64;
            while Instant::now() < warmup_end {
                ticks.tick().await;
                publisher.publish(seq, &shared).await?;
                seq += 1;
            }
            let cpu_at_start = (Pid::Me.cpu_time(), server_cpu_now());
            let start = Instant::now();
            let first_measured = seq;
            shared.measuring.set(true);
            while start.elapsed() < seconds(args.duration) {
                ticks.tick().await;
                publisher.publish(seq, &shared).await?;
                seq += 1;
            }
            shared.measuring.set(false);
            let elapsed = start.elapsed();
            let self_cpu = Pid::Me
                .cpu_time()
                .zip(cpu_at_start.0)
                .map(|(b, a)| b.saturating_sub(a));
            let server_cpu = server_cpu_now()
                .zip(cpu_at_start.1)
                .map(|(b, a)| b.saturating_sub(a));
            // Let the last events arrive, then count what never did.
            tokio::time::sleep(Duration::from_millis(500)).await;
            while let Some(joined) = tasks.try_join_next() {
                joined.context("a subscriber task panicked")??;
            }
            tasks.abort_all();
            let seen = shared.seen.borrow();
            let lost = seen
                .iter()
                .map(|s| s.gaps + seq.saturating_sub(s.next))
                .sum();
            let reordered = seen.iter().map(|s| s.reordered).sum();
            anyhow::Ok(FanoutReport {
                elapsed,
                published: seq - first_measured,
                published_total: seq,
                deliveries: shared.deliveries.get(),
                latency: shared.latency.borrow().clone(),
                lost,
                reordered,
                self_cpu,
                server_cpu,
                server_rss_before,
                server_rss_subscribed,
            })
        })
        .await
}

type Socket = duplex::WebSocket<duplex::MaybeTlsStream>;

/// Connects, waits for `pusher:connection_established`, subscribes, and
/// waits for the subscription to succeed.
async fn subscribe(url: &str, channel: &str) -> Result<Socket> {
    let (mut ws, _) = ClientBuilder::new(url)?.deflate(None).connect().await?;
    expect(&mut ws, "pusher:connection_established").await?;
    let request = json!({"event": "pusher:subscribe", "data": {"channel": channel}});
    ws.send(Message::text(request.to_string())).await?;
    expect(&mut ws, "pusher_internal:subscription_succeeded").await?;
    Ok(ws)
}

async fn expect(ws: &mut Socket, event: &str) -> Result<()> {
    loop {
        let message = ws
            .next()
            .await
            .context("the server closed the connection")??;
        let Message::Text(text) = message else {
            continue;
        };
        let incoming: Incoming =
            serde_json::from_str(&text).context("a message that is not Pusher JSON")?;
        if incoming.event == event {
            return Ok(());
        }
        if incoming.event == "pusher:error" {
            bail!("the server answered {}", text.as_str());
        }
    }
}

/// Receives events until aborted, answering the server's pings.
async fn receive(id: usize, mut ws: Socket, shared: Rc<Shared>) -> Result<()> {
    while let Some(message) = ws.next().await {
        let message = message.with_context(|| format!("subscriber {id}"))?;
        let Message::Text(text) = message else {
            continue;
        };
        let now = shared.epoch.elapsed();
        let incoming: Incoming =
            serde_json::from_str(&text).with_context(|| format!("subscriber {id}: bad JSON"))?;
        match incoming.event.as_str() {
            EVENT => {}
            "pusher:ping" => {
                ws.send(Message::text(r#"{"event":"pusher:pong","data":{}}"#))
                    .await?;
                continue;
            }
            _ => continue,
        }
        let data = incoming
            .data
            .as_ref()
            .and_then(|d| d.as_str())
            .unwrap_or("");
        let (seq, sent) =
            parse_data(data).with_context(|| format!("subscriber {id}: event data {data:?}"))?;
        {
            let mut seen = shared.seen.borrow_mut();
            let seen = &mut seen[id];
            if seq < seen.next {
                seen.reordered += 1;
            } else {
                seen.gaps += seq - seen.next;
                seen.next = seq + 1;
            }
        }
        if shared.measuring.get() {
            shared.latency.borrow_mut().record(now.saturating_sub(sent));
            shared.deliveries.set(shared.deliveries.get() + 1);
        }
    }
    bail!("subscriber {id}: the server closed the connection")
}

fn parse_data(data: &str) -> Option<(u64, Duration)> {
    let (seq, micros) = data.split_once(' ')?;
    Some((
        seq.parse().ok()?,
        Duration::from_micros(micros.parse().ok()?),
    ))
}

/// A keep-alive HTTP/1.1 connection to the HTTP API.
struct Publisher {
    /// Sends requests over the connection (driven by a task of its own).
    sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    /// `/apps/{id}/events`.
    path: String,
    /// The `Host` header.
    host: String,
    /// The app's key.
    key: String,
    /// The app's secret, to sign with.
    secret: String,
    /// The channel.
    channel: String,
}

impl Publisher {
    async fn connect(target: &Target, args: &BenchArgs, secret: String) -> Result<Self> {
        let tcp = tokio::net::TcpStream::connect((target.host.as_str(), target.port)).await?;
        tcp.set_nodelay(true)?;
        let (sender, connection) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp)).await?;
        tokio::spawn(connection);
        Ok(Publisher {
            sender,
            path: format!("/apps/{}/events", args.app_id),
            host: target.host_header.clone(),
            key: args.app_key.clone(),
            secret,
            channel: args.channel.clone(),
        })
    }

    /// Publishes event `seq`, stamped with the time now.
    async fn publish(&mut self, seq: u64, shared: &Shared) -> Result<()> {
        let sent = shared.epoch.elapsed().as_micros();
        let body = json!({"name": EVENT, "channel": self.channel, "data": format!("{seq} {sent}")})
            .to_string();
        let unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let credentials = Credentials {
            key: &self.key,
            secret: &self.secret,
        };
        let query =
            ApiRequest::signed_query(credentials, "POST", &self.path, &[], body.as_bytes(), unix);
        let request = http::Request::post(format!("{}?{query}", self.path))
            .header("host", &self.host)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body)))?;
        let response = tokio::time::timeout(STEP_TIMEOUT, async {
            self.sender.ready().await?;
            let response = self.sender.send_request(request).await?;
            let status = response.status();
            let body = response.into_body().collect().await?.to_bytes();
            anyhow::Ok((status, body))
        })
        .await
        .context("the HTTP API did not answer")??;
        if !response.0.is_success() {
            bail!(
                "publishing answered {}: {}",
                response.0,
                String::from_utf8_lossy(&response.1)
            );
        }
        Ok(())
    }
}

impl FanoutReport {
    /// The report, with the options that produced it.
    pub fn into_json(self, args: &BenchArgs) -> serde_json::Value {
        let secs = self.elapsed.as_secs_f64();
        let cpu = |d: Option<Duration>| d.map(|d| (d.as_secs_f64() * 1000.0).round() / 1000.0);
        json!({
            "mode": "fanout",
            "label": args.label,
            "subscribers": args.connections,
            "nodes": 1 + args.node_url.len(),
            "rate": args.rate,
            "seconds": (secs * 1000.0).round() / 1000.0,
            "published": self.published,
            "published_total": self.published_total,
            "publish_per_s": (self.published as f64 / secs).round(),
            "deliveries": self.deliveries,
            "deliveries_per_s": (self.deliveries as f64 / secs).round(),
            "lost": self.lost,
            "reordered": self.reordered,
            "latency_p50_us": micros(self.latency.quantile(0.50)),
            "latency_p99_us": micros(self.latency.quantile(0.99)),
            "latency_p999_us": micros(self.latency.quantile(0.999)),
            "latency_max_us": micros(self.latency.max()),
            "self_cpu_s": cpu(self.self_cpu),
            "server_cpu_s": cpu(self.server_cpu),
            "server_rss_before_kib": self.server_rss_before,
            "server_rss_subscribed_kib": self.server_rss_subscribed,
            "server_kib_per_subscriber": self.server_rss_before.zip(self.server_rss_subscribed).map(|(b, a)| {
                ((a as f64 - b as f64) / args.connections as f64 * 100.0).round() / 100.0
            }),
            "deliveries_per_server_cpu_s": self.server_cpu.filter(|d| !d.is_zero()).map(|d| (self.deliveries as f64 / d.as_secs_f64()).round()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_data_carries_number_and_time() {
        assert_eq!(
            parse_data("12 3456"),
            Some((12, Duration::from_micros(3456)))
        );
        assert_eq!(parse_data("12"), None);
        assert_eq!(parse_data("x 1"), None);
    }
}
