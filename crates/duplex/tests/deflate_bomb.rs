//! A decompression bomb: a compressed message that inflates to 1 GiB is
//! refused with close code 1009 once it passes the message limit, and the
//! process never holds much more than that limit.
//!
//! DEFLATE cannot expand more than about 1032:1, so "1 GiB" takes a frame of
//! about 1 MiB (a 1 KiB frame tops out near 1 MiB of output); the point is
//! the same: memory is bounded by the configured limit, not by the bomb.
//! This test is alone in its file so the process's peak memory is its own.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use duplex::{Acceptor, Config, DeflateConfig};
use flate2::{Compress, Compression, FlushCompress};
use futures_util::StreamExt;

const LIMIT: usize = 16 << 20;

/// Peak resident memory of this process, in bytes (VmHWM).
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// Raw DEFLATE of `total` zero bytes, without the final `00 00 ff ff`.
fn compressed_zeros(total: usize) -> Vec<u8> {
    let mut compress = Compress::new(Compression::best(), false);
    let zeros = vec![0u8; 1 << 20];
    let mut out = Vec::with_capacity(2 << 20);
    let mut fed = 0;
    while fed < total {
        let before = compress.total_in();
        out.reserve(64 << 10);
        compress
            .compress_vec(&zeros, &mut out, FlushCompress::None)
            .unwrap();
        fed += (compress.total_in() - before) as usize;
    }
    loop {
        out.reserve(64 << 10);
        compress
            .compress_vec(&[], &mut out, FlushCompress::Sync)
            .unwrap();
        if out.ends_with(&[0, 0, 0xff, 0xff]) {
            break;
        }
    }
    out.truncate(out.len() - 4);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compression_bomb_is_refused_with_1009_and_bounded_memory() {
    let bomb = compressed_zeros(1 << 30);
    let bomb_len = bomb.len();
    assert!(
        bomb.len() < 2 << 20,
        "the bomb is small: {} bytes",
        bomb.len()
    );

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let config = Config::default()
            .max_message_size(LIMIT)
            .deflate(Some(DeflateConfig::default()));
        let mut ws = Acceptor::new().config(config).accept(tcp).await.unwrap();
        let mut first_error = None;
        while let Some(item) = ws.next().await {
            if let Err(e) = item {
                first_error.get_or_insert(e);
            }
        }
        first_error
    });

    let before = peak_rss();
    let client = tokio::task::spawn_blocking(move || {
        let mut tcp = TcpStream::connect(addr).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        tcp.write_all(
            b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
              Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
        )
        .unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            tcp.read_exact(&mut byte).unwrap();
            head.push(byte[0]);
        }
        let head = String::from_utf8(head).unwrap();
        assert!(head.contains("permessage-deflate"), "{head}");
        // One masked, compressed (RSV1) binary frame.
        let key = [1, 2, 3, 4];
        let mut frame = vec![0x80 | 0x40 | 0x2, 0x80 | 127];
        frame.extend_from_slice(&(bomb.len() as u64).to_be_bytes());
        frame.extend_from_slice(&key);
        let start = frame.len();
        frame.extend_from_slice(&bomb);
        duplex::proto::apply_mask(&mut frame[start..], key, 0);
        // The server may stop reading once it has failed the connection.
        let _ = tcp.write_all(&frame);
        let mut reply = Vec::new();
        let _ = tcp.read_to_end(&mut reply);
        reply
    });
    let reply = tokio::time::timeout(Duration::from_secs(60), client)
        .await
        .unwrap()
        .unwrap();
    // The server's close frame: 0x88, length, then the code 1009.
    assert!(
        reply.len() >= 4 && reply[0] == 0x88,
        "{:x?}",
        &reply[..reply.len().min(16)]
    );
    assert_eq!(u16::from_be_bytes([reply[2], reply[3]]), 1009);
    let error = server.await.unwrap();
    assert!(
        matches!(error, Some(duplex::Error::MessageTooBig { limit: LIMIT })),
        "{error:?}"
    );
    let growth = peak_rss().saturating_sub(before);
    eprintln!(
        "bomb: {} bytes compressed; peak memory grew by {} KiB",
        bomb_len,
        growth >> 10
    );
    // The inflated data is cut at the limit; allow for buffer growth and the
    // compressed frame itself, but nothing near the 1 GiB the bomb asks for.
    assert!(
        growth < 5 * LIMIT as u64,
        "peak memory grew by {} MiB",
        growth >> 20
    );
}
