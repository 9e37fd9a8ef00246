//! permessage-deflate on a realistic JSON event stream: throughput of
//! compressing and inflating, with and without context takeover, and the
//! compression ratio (printed once before the measurements).
//!
//! `cargo bench -p duplex-proto --bench deflate`

use bytes::BytesMut;
use criterion::{criterion_main, BatchSize, Criterion, Throughput};
use duplex_proto::deflate::{DeflateConfig, DeflateParams, PerMessageDeflate};

/// Pusher-style channel events as a leaderboard, a ticker and a chat send
/// them: small JSON objects, double-encoded `data`, varying numbers and names.
fn event_stream(count: usize) -> Vec<Vec<u8>> {
    let names = [
        "ann", "bob", "chen", "dmitri", "eve", "fatima", "gus", "hana",
    ];
    let symbols = ["BTC-USD", "ETH-USD", "SOL-USD", "EUR-USD"];
    (0..count)
        .map(|i| {
            let text = match i % 3 {
                0 => format!(
                    r#"{{"event":"rank-update","channel":"presence-leaderboard","data":"{{\"player\":\"{}\",\"score\":{},\"rank\":{},\"delta\":{}}}"}}"#,
                    names[i % names.len()],
                    (i * 7919) % 100_000,
                    i % 50 + 1,
                    (i % 9) as i64 - 4
                ),
                1 => format!(
                    r#"{{"event":"tick","channel":"ticker","data":"{{\"symbol\":\"{}\",\"bid\":{}.{:02},\"ask\":{}.{:02},\"ts\":{}}}"}}"#,
                    symbols[i % symbols.len()],
                    30_000 + i % 1000,
                    i % 100,
                    30_001 + i % 1000,
                    (i * 3) % 100,
                    1_700_000_000_000u64 + i as u64 * 137
                ),
                _ => format!(
                    r#"{{"event":"message","channel":"presence-chat-lobby","data":"{{\"from\":\"{}\",\"text\":\"message number {} about the game, see you at level {}\",\"at\":{}}}"}}"#,
                    names[(i / 3) % names.len()],
                    i,
                    i % 30,
                    1_700_000_000 + i
                ),
            };
            text.into_bytes()
        })
        .collect()
}

fn params(no_context_takeover: bool) -> DeflateParams {
    DeflateParams {
        server_no_context_takeover: no_context_takeover,
        client_no_context_takeover: no_context_takeover,
        server_max_window_bits: 15,
        client_max_window_bits: 15,
    }
}

fn compress_all(deflate: &mut PerMessageDeflate, events: &[Vec<u8>]) -> Vec<BytesMut> {
    events
        .iter()
        .map(|e| {
            let mut out = BytesMut::with_capacity(e.len());
            deflate.compress(e, &mut out).unwrap();
            out
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let events = event_stream(1000);
    let raw: usize = events.iter().map(Vec::len).sum();
    let config = DeflateConfig::default().with_min_compress_size(0);
    for (label, no_takeover) in [("context takeover", false), ("no context takeover", true)] {
        let mut server = PerMessageDeflate::new(params(no_takeover), true, &config);
        let compressed: usize = compress_all(&mut server, &events)
            .iter()
            .map(BytesMut::len)
            .sum();
        eprintln!(
            "deflate, {label}: {} events, {raw} bytes -> {compressed} bytes (ratio {:.3}, {:.1}x smaller), mean event {} B",
            events.len(),
            compressed as f64 / raw as f64,
            raw as f64 / compressed as f64,
            raw / events.len()
        );
        let mut group = c.benchmark_group(format!("deflate/{label}"));
        group.throughput(Throughput::Bytes(raw as u64));
        group.bench_function("compress 1000 events", |b| {
            b.iter_batched(
                || PerMessageDeflate::new(params(no_takeover), true, &config),
                |mut deflate| compress_all(&mut deflate, &events),
                BatchSize::LargeInput,
            )
        });
        let mut sender = PerMessageDeflate::new(params(no_takeover), true, &config);
        let wire = compress_all(&mut sender, &events);
        group.bench_function("inflate 1000 events", |b| {
            b.iter_batched(
                || PerMessageDeflate::new(params(no_takeover), false, &config),
                |mut receiver| {
                    for frame in &wire {
                        let mut out = BytesMut::new();
                        receiver.decompress(frame, true, &mut out, 1 << 20).unwrap();
                    }
                },
                BatchSize::LargeInput,
            )
        });
        group.finish();
    }
}

/// The criterion harness (in a module: `criterion_group!` expands to an
/// undocumented `pub fn`).
#[allow(missing_docs)]
mod harness {
    criterion::criterion_group!(benches, super::bench);
}

criterion_main!(harness::benches);
