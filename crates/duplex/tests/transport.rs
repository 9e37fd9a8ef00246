//! How the stream drives the transport: fed messages go out when the stream
//! is polled (no flush needed), and a transport that fails ends the stream
//! instead of failing on every poll.

mod common;

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use common::*;
use duplex::{Config, Error, Message, Role, WebSocket};
use futures_util::StreamExt;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

#[tokio::test]
async fn a_fed_reply_goes_out_when_the_stream_is_next_polled() {
    let (mut client, mut server) = pair().await;
    within(client.send(Message::text("ping?"))).await.unwrap();
    let got = within(server.recv()).await.unwrap().unwrap();
    within(server.feed(got)).await.unwrap();
    // No flush: the server only waits for its next message, and that is
    // enough for the reply to leave.
    tokio::select! {
        other = server.recv() => panic!("the server's stream yielded {other:?}"),
        reply = within(client.recv()) => {
            assert_eq!(reply.unwrap().unwrap(), Message::text("ping?"));
        }
    }
}

#[tokio::test]
async fn replies_to_a_burst_are_written_together() {
    let (mut client, server) = pair().await;
    let server = tokio::spawn(async move {
        let mut server = server;
        let mut writes_before = 0;
        while let Some(Ok(message)) = server.next().await {
            if message.is_data() {
                server.feed(message).await.unwrap();
                writes_before += 1;
            }
        }
        writes_before
    });
    // 50 messages in one write: they arrive together and are answered in
    // order.
    for i in 0..50u32 {
        client
            .feed(Message::binary(i.to_be_bytes().to_vec()))
            .await
            .unwrap();
    }
    within(client.flush()).await.unwrap();
    for i in 0..50u32 {
        let reply = within(client.recv()).await.unwrap().unwrap();
        assert_eq!(reply, Message::binary(i.to_be_bytes().to_vec()));
    }
    within(client.close(duplex::CloseCode::NORMAL, ""))
        .await
        .unwrap();
    assert_eq!(within(server).await.unwrap(), 50);
}

/// A transport that delivers `input`, then reports end of stream, and fails
/// every write with a broken pipe (like a socket the peer reset).
struct BrokenWrites {
    input: Vec<u8>,
    writes: usize,
}

impl AsyncRead for BrokenWrites {
    fn poll_read(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let n = this.input.len().min(buf.remaining());
        buf.put_slice(&this.input[..n]);
        this.input.drain(..n);
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for BrokenWrites {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        _buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().writes += 1;
        Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// A masked client frame (FIN, the given opcode, payload under 126 bytes).
fn masked_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let key = [0x12, 0x34, 0x56, 0x78];
    let mut frame = vec![0x80 | opcode, 0x80 | payload.len() as u8];
    frame.extend_from_slice(&key);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    frame
}

#[tokio::test]
async fn a_failed_write_ends_the_stream_after_one_error() {
    let mut input = masked_frame(0x2, b"one");
    input.extend(masked_frame(0x2, b"two"));
    let io = BrokenWrites { input, writes: 0 };
    let mut ws = WebSocket::from_raw(io, Role::Server, Config::default(), None, &[]);

    let first = within(ws.next()).await.unwrap().unwrap();
    assert_eq!(first, Message::binary(b"one".to_vec()));
    within(ws.feed(first)).await.unwrap();
    // "two" is already received, so the reply is not written yet.
    let second = within(ws.next()).await.unwrap().unwrap();
    assert_eq!(second, Message::binary(b"two".to_vec()));
    within(ws.feed(second)).await.unwrap();
    assert_eq!(ws.get_ref().writes, 0);
    // Now the replies are written, the write fails: one error, then the end.
    match within(ws.next()).await {
        Some(Err(Error::Io(e))) => assert_eq!(e.kind(), io::ErrorKind::BrokenPipe),
        other => panic!("expected the write error, got {other:?}"),
    }
    assert!(within(ws.next()).await.is_none());
    assert!(within(ws.next()).await.is_none());
    assert_eq!(ws.get_ref().writes, 1, "the failed write was retried");
}

#[tokio::test]
async fn a_failed_pong_ends_the_stream_after_one_error() {
    let io = BrokenWrites {
        input: masked_frame(0x9, b"are you there?"),
        writes: 0,
    };
    let mut ws = WebSocket::from_raw(io, Role::Server, Config::default(), None, &[]);
    match within(ws.next()).await {
        Some(Err(Error::Io(e))) => assert_eq!(e.kind(), io::ErrorKind::BrokenPipe),
        other => panic!("expected the write error, got {other:?}"),
    }
    assert!(within(ws.next()).await.is_none());
    assert_eq!(ws.get_ref().writes, 1);
}
