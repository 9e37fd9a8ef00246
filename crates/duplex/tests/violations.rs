//! Peers that break RFC 6455, spoken to with raw bytes: the connection is
//! failed with the close code of the violation (§7.4.1), the close frame
//! reaches the peer, and the failing side closes TCP.

mod common;

use common::*;
use duplex::proto::handshake::accept_key;
use duplex::proto::ProtocolError;
use duplex::{Acceptor, CloseCode, CloseStatus, Error, Message};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A client frame with FIN set, masked with a fixed key.
fn masked_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut frame = unmasked_frame(opcode, payload);
    frame[1] |= 0x80;
    let key = [0x12, 0x34, 0x56, 0x78];
    let header_len = frame.len() - payload.len();
    frame.splice(header_len..header_len, key);
    for (i, b) in frame[header_len + 4..].iter_mut().enumerate() {
        *b ^= key[i % 4];
    }
    frame
}

/// A frame with FIN set and no mask.
fn unmasked_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    assert!(payload.len() < 126);
    let mut frame = vec![0x80 | opcode, payload.len() as u8];
    frame.extend_from_slice(payload);
    frame
}

/// Reads from `tcp` until end of stream (or reset).
async fn read_all(tcp: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match within(tcp.read(&mut buf)).await {
            Ok(0) | Err(_) => return out,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
}

/// The close code of the single unmasked close frame that `bytes` must be.
#[track_caller]
fn close_code_of(bytes: &[u8]) -> u16 {
    assert!(bytes.len() >= 4, "no close frame with a code: {bytes:?}");
    assert_eq!(bytes[0], 0x88, "not a final close frame: {bytes:?}");
    let len = usize::from(bytes[1]);
    assert!(len < 126 && bytes[1] & 0x80 == 0, "{bytes:?}");
    assert_eq!(
        bytes.len(),
        2 + len,
        "bytes after the close frame: {bytes:?}"
    );
    u16::from_be_bytes([bytes[2], bytes[3]])
}

/// A raw client whose handshake with a duplex server is done, and the
/// server's task, which runs `serve` on the accepted WebSocket.
async fn raw_client<F, Fut, T>(serve: F) -> (TcpStream, tokio::task::JoinHandle<T>)
where
    F: FnOnce(Server) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = T> + Send,
    T: Send + 'static,
{
    let (listener, _) = listen().await;
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        serve(Acceptor::new().accept(tcp).await.unwrap()).await
    });
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    within(tcp.write_all(GOOD_REQUEST.as_bytes()))
        .await
        .unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        assert_eq!(
            within(tcp.read(&mut byte)).await.unwrap(),
            1,
            "EOF in the response head"
        );
        head.push(byte[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101 "),
        "{}",
        String::from_utf8_lossy(&head)
    );
    (tcp, server)
}

/// Everything the server's stream yields, and how it ended.
async fn drain_server(mut ws: Server) -> (Vec<Result<Message, Error>>, Option<CloseStatus>) {
    let mut items = Vec::new();
    while let Some(item) = ws.recv().await {
        items.push(item);
    }
    (items, ws.close_status())
}

#[tokio::test]
async fn invalid_utf8_text_fails_with_1007() {
    let (mut tcp, server) = raw_client(drain_server).await;
    within(tcp.write_all(&masked_frame(0x1, b"bad \xff utf-8")))
        .await
        .unwrap();
    assert_eq!(close_code_of(&read_all(&mut tcp).await), 1007);

    let (items, status) = within(server).await.unwrap();
    assert_eq!(items.len(), 1, "{items:?}");
    assert!(
        matches!(items[0], Err(Error::Protocol(ProtocolError::InvalidUtf8))),
        "{items:?}"
    );
    assert_eq!(status.map(|s| s.code()), Some(CloseCode::INVALID_PAYLOAD));
}

#[tokio::test]
async fn an_unmasked_client_frame_fails_with_1002() {
    let (mut tcp, server) = raw_client(drain_server).await;
    within(tcp.write_all(&unmasked_frame(0x1, b"not masked")))
        .await
        .unwrap();
    assert_eq!(close_code_of(&read_all(&mut tcp).await), 1002);

    let (items, status) = within(server).await.unwrap();
    assert!(
        matches!(
            items[..],
            [Err(Error::Protocol(ProtocolError::UnmaskedFrame))]
        ),
        "{items:?}"
    );
    assert_eq!(status.map(|s| s.code()), Some(CloseCode::PROTOCOL_ERROR));
}

#[tokio::test]
async fn a_reserved_opcode_fails_with_1002() {
    let (mut tcp, server) = raw_client(drain_server).await;
    within(tcp.write_all(&masked_frame(0x3, b"")))
        .await
        .unwrap();
    assert_eq!(close_code_of(&read_all(&mut tcp).await), 1002);
    let (items, _) = within(server).await.unwrap();
    assert!(
        matches!(
            items[..],
            [Err(Error::Protocol(ProtocolError::ReservedOpCode(3)))]
        ),
        "{items:?}"
    );
}

#[tokio::test]
async fn the_close_frame_goes_out_even_if_the_application_stops_at_the_error() {
    // `while let Some(Ok(msg)) = ws.next().await` is the usual loop (the
    // crate's own example uses it): it stops at the error and drops the
    // socket. The peer must still learn why, with 1007, rather than see the
    // connection vanish.
    //
    // Bug found here: the failing close frame was only queued, and written
    // on the *next* poll, which this loop never makes; the peer saw a bare
    // TCP close. Fixed in `WebSocket::poll_next_message` (websocket.rs),
    // which now writes it out before returning the error.
    let (mut tcp, server) = raw_client(|mut ws: Server| async move {
        let mut seen = 0;
        while let Some(Ok(_)) = futures_util::StreamExt::next(&mut ws).await {
            seen += 1;
        }
        seen
    })
    .await;
    within(tcp.write_all(&masked_frame(0x1, b"fine")))
        .await
        .unwrap();
    within(tcp.write_all(&masked_frame(0x1, b"\xc3\x28")))
        .await
        .unwrap();
    assert_eq!(close_code_of(&read_all(&mut tcp).await), 1007);
    assert_eq!(within(server).await.unwrap(), 1);
}

// ----- a raw server against our client ------------------------------------------

/// Accepts one connection on `listener`, reads the request head and returns
/// the stream and the request's `Sec-WebSocket-Key`.
async fn raw_accept(listener: TcpListener) -> (TcpStream, String) {
    let (mut tcp, _) = listener.accept().await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        assert_eq!(
            tcp.read(&mut byte).await.unwrap(),
            1,
            "EOF in the request head"
        );
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    let key = head
        .lines()
        .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
        .expect("a key")
        .to_string();
    (tcp, key)
}

fn switching_protocols(accept: &str) -> String {
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
    )
}

#[tokio::test]
async fn frames_sent_with_the_101_are_not_lost() {
    let (listener, url) = listen().await;
    let server = tokio::spawn(async move {
        let (mut tcp, key) = raw_accept(listener).await;
        let mut bytes = switching_protocols(&accept_key(key.as_bytes())).into_bytes();
        bytes.extend(unmasked_frame(0x1, b"first"));
        bytes.extend(unmasked_frame(0x9, b"ping"));
        bytes.extend(unmasked_frame(0x2, &[7, 7]));
        // One write: the client's handshake read takes frames along.
        tcp.write_all(&bytes).await.unwrap();
        tcp
    });
    let (mut ws, _) = within(duplex::connect(&url)).await.unwrap();
    assert_eq!(
        within(ws.recv()).await.unwrap().unwrap(),
        Message::text("first")
    );
    assert_eq!(
        within(ws.recv()).await.unwrap().unwrap(),
        Message::Ping("ping".into())
    );
    assert_eq!(
        within(ws.recv()).await.unwrap().unwrap(),
        Message::binary(vec![7u8, 7])
    );

    // The pong went out: a masked pong frame with the ping's payload.
    let mut tcp = within(server).await.unwrap();
    let mut pong = [0u8; 10];
    within(tcp.read_exact(&mut pong)).await.unwrap();
    assert_eq!(&pong[..2], &[0x8a, 0x84]);
    let key = [pong[2], pong[3], pong[4], pong[5]];
    let payload: Vec<u8> = pong[6..]
        .iter()
        .enumerate()
        .map(|(i, b)| b ^ key[i % 4])
        .collect();
    assert_eq!(payload, b"ping");
}

#[tokio::test]
async fn a_wrong_accept_value_is_refused() {
    let (listener, url) = listen().await;
    let server = tokio::spawn(async move {
        let (mut tcp, _key) = raw_accept(listener).await;
        let wrong = accept_key(b"dGhlIHNhbXBsZSBub25jZQ==");
        tcp.write_all(switching_protocols(&wrong).as_bytes())
            .await
            .unwrap();
        tcp
    });
    let result = within(duplex::connect(&url)).await;
    assert!(
        matches!(
            result,
            Err(Error::Handshake(
                duplex::proto::handshake::HandshakeError::InvalidAccept
            ))
        ),
        "{:?}",
        result.map(|_| ())
    );
    drop(within(server).await.unwrap());
}

#[tokio::test]
async fn a_masked_server_frame_fails_the_client_with_1002() {
    let (listener, url) = listen().await;
    let server = tokio::spawn(async move {
        let (mut tcp, key) = raw_accept(listener).await;
        tcp.write_all(switching_protocols(&accept_key(key.as_bytes())).as_bytes())
            .await
            .unwrap();
        tcp.write_all(&masked_frame(0x1, b"masked")).await.unwrap();
        // The client fails the connection: its close frame (masked), then
        // it closes TCP.
        let bytes = read_all(&mut tcp).await;
        assert!(
            bytes.len() >= 8 && bytes[0] == 0x88 && bytes[1] & 0x80 != 0,
            "{bytes:?}"
        );
        let key = [bytes[2], bytes[3], bytes[4], bytes[5]];
        u16::from_be_bytes([bytes[6] ^ key[0], bytes[7] ^ key[1]])
    });
    let (mut ws, _) = within(duplex::connect(&url)).await.unwrap();
    let got = within(ws.recv()).await.unwrap();
    assert!(
        matches!(got, Err(Error::Protocol(ProtocolError::MaskedFrame))),
        "{got:?}"
    );
    assert!(within(ws.recv()).await.is_none());
    assert_eq!(
        ws.close_status().map(|s| s.code()),
        Some(CloseCode::PROTOCOL_ERROR)
    );
    assert_eq!(within(server).await.unwrap(), 1002);
}

#[tokio::test]
async fn connect_times_out_against_a_silent_server() {
    let (listener, url) = listen().await;
    // Accepts TCP, never answers the handshake.
    let server = tokio::spawn(async move { listener.accept().await.unwrap().0 });
    let result = within(
        duplex::ClientBuilder::new(&url)
            .unwrap()
            .timeout(std::time::Duration::from_millis(300))
            .connect(),
    )
    .await;
    assert!(
        matches!(result, Err(Error::Timeout("opening the connection"))),
        "{:?}",
        result.map(|_| ())
    );
    drop(within(server).await.unwrap());
}

#[tokio::test]
async fn a_server_that_never_closes_tcp_is_left_at_the_close_timeout() {
    let (listener, url) = listen().await;
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        let (mut tcp, key) = raw_accept(listener).await;
        tcp.write_all(switching_protocols(&accept_key(key.as_bytes())).as_bytes())
            .await
            .unwrap();
        // Read the client's close frame (masked, code 1000, no reason),
        // answer it, and then keep the connection open.
        let mut close = [0u8; 8];
        tcp.read_exact(&mut close).await.unwrap();
        assert_eq!(&close[..2], &[0x88, 0x82]);
        tcp.write_all(&unmasked_frame(0x8, &1000u16.to_be_bytes()))
            .await
            .unwrap();
        let _ = done_rx.await;
    });
    let (mut ws, _) = within(duplex::connect(&url)).await.unwrap();
    let timeout = std::time::Duration::from_millis(300);
    ws.set_close_timeout(timeout);
    let start = std::time::Instant::now();
    let status = within(ws.close(CloseCode::NORMAL, "")).await.unwrap();
    let elapsed = start.elapsed();
    // The handshake itself was clean; only the TCP close was waited for.
    assert_eq!(
        status,
        Some(CloseStatus::Clean(Some(duplex::CloseFrame::new(1000, ""))))
    );
    assert!(elapsed >= timeout, "gave up after {elapsed:?}");
    assert!(elapsed < duplex::DEFAULT_CLOSE_TIMEOUT, "took {elapsed:?}");
    done_tx.send(()).unwrap();
    within(server).await.unwrap();
}
