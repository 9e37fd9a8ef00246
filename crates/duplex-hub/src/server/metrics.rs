//! Counters for `/metrics`, in the Prometheus text format.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

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
        let counters = [
            ("duplex_connections_total", "WebSocket connections accepted", &self.connections_total),
            ("duplex_messages_in_total", "Frames received from clients", &self.messages_in),
            ("duplex_bytes_in_total", "Bytes received from clients", &self.bytes_in),
            ("duplex_messages_out_total", "Frames sent to clients", &self.messages_out),
            ("duplex_bytes_out_total", "Bytes sent to clients", &self.bytes_out),
            ("duplex_api_events_total", "Events published through the HTTP API", &self.api_events),
            ("duplex_api_errors_total", "HTTP API requests refused", &self.api_errors),
        ];
        for (name, help, value) in counters {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}", value.load(Ordering::Relaxed));
        }
        let _ = writeln!(out, "# HELP duplex_closes_total Connections closed with a Pusher error code\n# TYPE duplex_closes_total counter");
        for (i, count) in self.closes_by_code.iter().enumerate() {
            let n = count.load(Ordering::Relaxed);
            if n > 0 {
                let _ = writeln!(out, "duplex_closes_total{{code=\"{}\"}} {n}", 4000 + i);
            }
        }
        for (name, help, value) in gauges {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}");
        }
        out
    }
}
