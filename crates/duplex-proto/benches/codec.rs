//! Codec micro-benchmarks for `duplex-proto`: frame headers, masking, UTF-8
//! validation, and whole-message decode/encode through [`Connection`].
//!
//! Run all of them with `cargo bench -p duplex-proto --bench codec`, or one
//! group with a filter, e.g. `cargo bench -p duplex-proto --bench codec -- mask`.
//! Groups: `header/parse`, `header/encode`, `mask`, `utf8`, `decode`, `encode`.
//! See `docs/benchmarks.md` for the numbers and how they were taken.

use std::hint::black_box;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use duplex_proto::{
    apply_mask, Config, Connection, FrameHeader, Message, OpCode, Role, Utf8Bytes, Utf8Validator,
};

const KIB: usize = 1024;
const MIB: usize = 1024 * KIB;

/// A fixed masking key, so runs are comparable.
const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// How much the driver in `duplex` reads from the socket at once
/// (`FRAME_READ`): the decode benchmarks feed the connection in reads this big.
const READ_SIZE: usize = 64 * KIB;

/// Messages per iteration of the decode/encode benchmarks: about 32 KiB of
/// payload per iteration, and at least one message.
fn batch_len(msg_size: usize) -> usize {
    (32 * KIB / msg_size).max(1)
}

fn size_label(size: usize) -> String {
    match size {
        s if s >= MIB && s % MIB == 0 => format!("{}MiB", s / MIB),
        s if s >= KIB && s % KIB == 0 => format!("{}KiB", s / KIB),
        s => format!("{s}B"),
    }
}

/// Deterministic pseudo-random bytes (xorshift), so no run depends on an RNG.
fn pseudo_random_bytes(len: usize) -> Vec<u8> {
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

/// Printable ASCII text of exactly `len` bytes.
fn ascii_text(len: usize) -> String {
    const SAMPLE: &str =
        r#"{"event":"message","channel":"room-42","data":{"user":"ada","text":"hello, world"}} "#;
    SAMPLE.chars().cycle().take(len).collect()
}

/// Text of exactly `len` bytes mixing 1-, 2-, 3- and 4-byte characters
/// (roughly 40% of the characters are non-ASCII), padded with ASCII.
fn mixed_text(len: usize) -> String {
    const SAMPLE: &str = "Grüße, κόσμε! Привет мир. 你好，世界。こんにちは 😀🎉 naïve café — ";
    let mut out = String::with_capacity(len);
    for c in SAMPLE.chars().cycle() {
        if out.len() + c.len_utf8() > len {
            break;
        }
        out.push(c);
    }
    while out.len() < len {
        out.push(' ');
    }
    debug_assert_eq!(out.len(), len);
    out
}

// ----- frame headers ---------------------------------------------------------

/// Headers with 7-, 16- and 64-bit payload lengths, unmasked and masked.
fn headers() -> Vec<(String, FrameHeader)> {
    let mut out = Vec::new();
    for (label, payload_len) in [("7bit", 100u64), ("16bit", 1000), ("64bit", 100_000)] {
        for mask in [None, Some(KEY)] {
            let name = match mask {
                None => label.to_string(),
                Some(_) => format!("{label}_masked"),
            };
            let header = FrameHeader {
                fin: true,
                rsv1: false,
                rsv2: false,
                rsv3: false,
                opcode: OpCode::Binary,
                mask,
                payload_len,
            };
            out.push((name, header));
        }
    }
    out
}

fn bench_header(c: &mut Criterion) {
    let mut group = c.benchmark_group("header/parse");
    for (name, header) in headers() {
        let mut wire = BytesMut::new();
        header.encode(&mut wire);
        // Some payload after the header, as in a real read buffer.
        wire.extend_from_slice(&[0u8; 32]);
        group.throughput(Throughput::Bytes(header.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| {
                let parsed = FrameHeader::parse(black_box(&wire[..]));
                black_box(parsed)
            })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("header/encode");
    for (name, header) in headers() {
        let mut out = BytesMut::with_capacity(64);
        group.throughput(Throughput::Bytes(header.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| {
                out.clear();
                black_box(&header).encode(&mut out);
                black_box(&out);
            })
        });
    }
    group.finish();
}

// ----- masking ---------------------------------------------------------------

fn bench_mask(c: &mut Criterion) {
    let mut group = c.benchmark_group("mask");
    for size in [16, KIB, 64 * KIB, MIB] {
        // Room for a misaligned start (see below).
        let mut buf = pseudo_random_bytes(size + 8);
        group.throughput(Throughput::Bytes(size as u64));
        // `offset` is the key phase: where in the payload `buf` starts.
        for offset in 0..4 {
            let id = BenchmarkId::new(size_label(size), format!("off{offset}"));
            group.bench_function(id, |b| {
                b.iter(|| apply_mask(black_box(&mut buf[..size]), black_box(KEY), offset))
            });
        }
        if size >= KIB {
            // The payload rarely starts 8- or 16-byte aligned in a read buffer
            // (headers are 2 to 14 bytes long).
            let id = BenchmarkId::new(size_label(size), "misaligned_ptr");
            group.bench_function(id, |b| {
                b.iter(|| apply_mask(black_box(&mut buf[3..3 + size]), black_box(KEY), 0))
            });
        }
    }
    group.finish();
}

// ----- UTF-8 validation ------------------------------------------------------

fn bench_utf8(c: &mut Criterion) {
    let mut group = c.benchmark_group("utf8");
    let size = 64 * KIB;
    group.throughput(Throughput::Bytes(size as u64));
    for (kind, text) in [("ascii", ascii_text(size)), ("mixed", mixed_text(size))] {
        let bytes = text.into_bytes();
        assert_eq!(bytes.len(), size);

        group.bench_function(BenchmarkId::new("validator", kind), |b| {
            b.iter(|| {
                let mut v = Utf8Validator::new();
                v.feed(black_box(&bytes)).unwrap();
                v.finish().unwrap();
            })
        });
        // 1 KiB pieces cut the mixed text inside characters, exercising the
        // carried-over partial character.
        group.bench_function(BenchmarkId::new("validator_1KiB_pieces", kind), |b| {
            b.iter(|| {
                let mut v = Utf8Validator::new();
                for piece in black_box(&bytes).chunks(KIB) {
                    v.feed(piece).unwrap();
                }
                v.finish().unwrap();
            })
        });
        group.bench_function(BenchmarkId::new("std_from_utf8", kind), |b| {
            b.iter(|| std::str::from_utf8(black_box(&bytes)).is_ok())
        });
    }
    group.finish();
}

// ----- whole messages through `Connection` -------------------------------------

fn message(kind: &str, size: usize) -> Message {
    match kind {
        "binary" => Message::Binary(Bytes::from(pseudo_random_bytes(size))),
        _ => Message::Text(Utf8Bytes::from(mixed_text(size))),
    }
}

/// The bytes a client sends for `count` copies of `msg` (masked frames).
fn client_stream(msg: &Message, count: usize) -> Vec<u8> {
    let mut client = Connection::new(Role::Client, Config::default(), None);
    let mut wire = Vec::new();
    for _ in 0..count {
        client.send(msg.clone()).unwrap();
        while let Some(chunk) = client.poll_transmit() {
            wire.extend_from_slice(&chunk);
        }
    }
    wire
}

/// Server side: feed a stream of masked frames in `READ_SIZE` reads with
/// `recv`, draining `poll_message` after each read (unmask, UTF-8 check for
/// text, reassembly into a `Message`).
fn bench_decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode");
    for kind in ["binary", "text"] {
        for size in [16, KIB, 64 * KIB] {
            let count = batch_len(size);
            let wire = client_stream(&message(kind, size), count);
            let mut server = Connection::new(Role::Server, Config::default(), None);
            group.throughput(Throughput::Bytes((size * count) as u64));
            let id = BenchmarkId::new(kind, format!("{}x{count}", size_label(size)));
            group.bench_function(id, |b| {
                b.iter(|| {
                    let mut received = 0;
                    for read in black_box(&wire[..]).chunks(READ_SIZE) {
                        server.recv(read);
                        while let Some(msg) = server.poll_message().unwrap() {
                            black_box(msg);
                            received += 1;
                        }
                    }
                    assert_eq!(received, count);
                })
            });
        }
    }
    group.finish();
}

/// Client side: `send` a batch of messages (header, masking key, masked copy
/// of the payload) and drain it with `poll_transmit`. The payload is shared
/// (`Bytes` clone), so large messages are copied, then masked, not masked in
/// place; `binary_owned` measures the in-place path.
fn bench_encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("encode");
    for kind in ["binary", "text"] {
        for size in [16, KIB, 64 * KIB] {
            let count = batch_len(size);
            let msg = message(kind, size);
            let mut client = Connection::new(Role::Client, Config::default(), None);
            group.throughput(Throughput::Bytes((size * count) as u64));
            let id = BenchmarkId::new(kind, format!("{}x{count}", size_label(size)));
            group.bench_function(id, |b| {
                b.iter(|| {
                    for _ in 0..count {
                        client.send(msg.clone()).unwrap();
                    }
                    while let Some(chunk) = client.poll_transmit() {
                        black_box(chunk);
                    }
                })
            });
        }
    }
    // A payload the application hands over (refcount 1) is masked in place,
    // with no copy. The setup (allocating and filling the payload) is not timed.
    let size = 64 * KIB;
    let payload = pseudo_random_bytes(size);
    let mut client = Connection::new(Role::Client, Config::default(), None);
    group.throughput(Throughput::Bytes(size as u64));
    let id = BenchmarkId::new("binary_owned", format!("{}x1", size_label(size)));
    group.bench_function(id, |b| {
        b.iter_batched(
            || Message::Binary(Bytes::from(payload.clone())),
            |msg| {
                client.send(msg).unwrap();
                while let Some(chunk) = client.poll_transmit() {
                    black_box(chunk);
                }
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

/// The criterion harness (in a module: `criterion_group!` expands to an
/// undocumented `pub fn`).
#[allow(missing_docs)]
mod harness {
    use super::*;

    criterion_group! {
        name = benches;
        // Shorter than criterion's defaults (3 s + 5 s) so the whole suite runs
        // in a few minutes; override with --warm-up-time / --measurement-time.
        config = Criterion::default()
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(3));
        targets = bench_header, bench_mask, bench_utf8, bench_decode, bench_encode
    }
}
criterion_main!(harness::benches);
