//! Counters for `/metrics`, in the Prometheus text format.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Upper bounds of the latency histogram's buckets, in microseconds.
const LATENCY_BUCKETS_US: [u64; 14] = [
    50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000,
    1_000_000,
];

/// A latency histogram with fixed buckets, updated without locks.
#[derive(Debug)]
pub struct Histogram {
    /// Non-cumulative counts per bucket; the last is +Inf.
    buckets: [AtomicU64; LATENCY_BUCKETS_US.len() + 1],
    sum_us: AtomicU64,
    count: AtomicU64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            sum_us: AtomicU64::new(0),
            count: AtomicU64::new(0),
        }
    }
}

impl Histogram {
    /// Records one observation.
    pub fn observe(&self, value: Duration) {
        let us = u64::try_from(value.as_micros()).unwrap_or(u64::MAX);
        let bucket = LATENCY_BUCKETS_US
            .iter()
            .position(|&le| us <= le)
            .unwrap_or(LATENCY_BUCKETS_US.len());
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add(us, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let mut cumulative = 0;
        for (i, le) in LATENCY_BUCKETS_US.iter().enumerate() {
            cumulative += self.buckets[i].load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "{name}_bucket{{le=\"{}\"}} {cumulative}",
                *le as f64 / 1e6
            );
        }
        cumulative += self.buckets[LATENCY_BUCKETS_US.len()].load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {cumulative}");
        let _ = writeln!(
            out,
            "{name}_sum {}",
            self.sum_us.load(Ordering::Relaxed) as f64 / 1e6
        );
        let _ = writeln!(out, "{name}_count {}", self.count.load(Ordering::Relaxed));
    }
}

/// Process-wide counters. Per-app series are rendered from the app states.
#[derive(Debug)]
pub struct Metrics {
    /// WebSocket connections accepted.
    pub connections_total: AtomicU64,
    /// Text frames received from clients.
    pub messages_in: AtomicU64,
    /// Bytes of text frames received.
    pub bytes_in: AtomicU64,
    /// Frames sent to clients.
    pub messages_out: AtomicU64,
    /// Bytes of frames sent.
    pub bytes_out: AtomicU64,
    /// Events published through the HTTP API.
    pub api_events: AtomicU64,
    /// HTTP API requests refused (4xx).
    pub api_errors: AtomicU64,
    /// Connections closed with a Pusher error code, by code (4000–4399).
    pub closes_by_code: [AtomicU64; 400],
    /// Frames dropped because a connection's send queue was full.
    pub send_queue_drops: Arc<AtomicU64>,
    /// Time from queuing a frame for a connection to writing it.
    pub publish_to_send: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            connections_total: AtomicU64::new(0),
            messages_in: AtomicU64::new(0),
            bytes_in: AtomicU64::new(0),
            messages_out: AtomicU64::new(0),
            bytes_out: AtomicU64::new(0),
            api_events: AtomicU64::new(0),
            api_errors: AtomicU64::new(0),
            closes_by_code: std::array::from_fn(|_| AtomicU64::new(0)),
            send_queue_drops: Arc::new(AtomicU64::new(0)),
            publish_to_send: Histogram::default(),
        }
    }
}

impl Metrics {
    /// Counts a close with a Pusher code.
    pub fn count_close(&self, code: u16) {
        if (4000..4400).contains(&code) {
            self.closes_by_code[usize::from(code - 4000)].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Renders the counters (plus the gauges passed in) as Prometheus text.
    pub fn render(&self, gauges: &[(&str, &str, u64)]) -> String {
        let mut out = String::new();
        let drops = self.send_queue_drops.load(Ordering::Relaxed);
        let _ = writeln!(out, "# HELP duplex_send_queue_drops_total Frames dropped on full send queues (the client is disconnected)\n# TYPE duplex_send_queue_drops_total counter\nduplex_send_queue_drops_total {drops}");
        self.publish_to_send.render(
            &mut out,
            "duplex_publish_to_send_seconds",
            "Time from queuing a frame for a connection to writing it",
        );
        let counters = [
            (
                "duplex_connections_total",
                "WebSocket connections accepted",
                &self.connections_total,
            ),
            (
                "duplex_messages_in_total",
                "Frames received from clients",
                &self.messages_in,
            ),
            (
                "duplex_bytes_in_total",
                "Bytes received from clients",
                &self.bytes_in,
            ),
            (
                "duplex_messages_out_total",
                "Frames sent to clients",
                &self.messages_out,
            ),
            (
                "duplex_bytes_out_total",
                "Bytes sent to clients",
                &self.bytes_out,
            ),
            (
                "duplex_api_events_total",
                "Events published through the HTTP API",
                &self.api_events,
            ),
            (
                "duplex_api_errors_total",
                "HTTP API requests refused",
                &self.api_errors,
            ),
        ];
        for (name, help, value) in counters {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                value.load(Ordering::Relaxed)
            );
        }
        let _ = writeln!(out, "# HELP duplex_closes_total Connections closed with a Pusher error code\n# TYPE duplex_closes_total counter");
        for (i, count) in self.closes_by_code.iter().enumerate() {
            let n = count.load(Ordering::Relaxed);
            if n > 0 {
                let _ = writeln!(out, "duplex_closes_total{{code=\"{}\"}} {n}", 4000 + i);
            }
        }
        for (name, help, value) in gauges {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
            );
        }
        out
    }
}
