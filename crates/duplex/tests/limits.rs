//! Limits: message and frame sizes fail the connection with 1009 (RFC 6455
//! §7.4.1); the opening handshake is refused with the right HTTP status
//! (400, 405, 426, 431) and cut off when it is too slow.

mod common;

use std::time::{Duration, Instant};

use common::*;
use duplex::proto::handshake::HandshakeError;
use duplex::{Acceptor, CloseCode, CloseStatus, Config, Error, Limits, Message};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Sends `msg` from the client to a server with `server_config`, which must
/// fail the connection with 1009 for exceeding `limit`.
async fn assert_too_big_for_server(
    client_config: Config,
    server_config: Config,
    msg: Message,
    limit: usize,
) {
    let (mut client, mut server) =
        pair_with(client_config, Acceptor::new().config(server_config)).await;
    let server_task = tokio::spawn(async move {
        let items = drain(&mut server).await;
        (items, server.close_status())
    });
    within(client.send(msg)).await.unwrap();

    // The sender is told why, with 1009 and the receiver's error as reason.
    let items = within(drain(&mut client)).await;
    let expected_reason = format!("message too big: more than {limit} bytes");
    match items.as_slice() {
        [Ok(Message::Close(Some(frame)))] => {
            assert_eq!(frame.code, CloseCode::MESSAGE_TOO_BIG);
            assert_eq!(frame.reason, expected_reason.as_str());
        }
        other => panic!("the sender's stream gave {other:?}"),
    }
    assert_eq!(
        client.close_status().map(|s| s.code()),
        Some(CloseCode(1009))
    );

    // The receiver's stream gives the error once, then ends.
    let (items, status) = within(server_task).await.unwrap();
    assert_eq!(items.len(), 1, "{items:?}");
    assert!(
        matches!(items[0], Err(Error::MessageTooBig { limit: l }) if l == limit),
        "{items:?}"
    );
    match status {
        Some(CloseStatus::Failed(e)) => {
            assert_eq!(e, duplex::proto::Error::MessageTooBig { limit })
        }
        other => panic!("server status {other:?}"),
    }
}

#[tokio::test]
async fn a_message_over_max_message_size_fails_with_1009() {
    let server = Config::default().max_message_size(1000);
    assert_too_big_for_server(
        Config::default(),
        server,
        Message::binary(pattern(1001, 1)),
        1000,
    )
    .await;
}

#[tokio::test]
async fn a_fragmented_message_over_max_message_size_fails_with_1009() {
    // Each frame is within every limit; their sum is not.
    let client = Config::default().max_send_frame_size(400);
    let server = Config::default().max_message_size(1000).max_frame_size(400);
    assert_too_big_for_server(client, server, Message::text("x".repeat(1001)), 1000).await;
}

#[tokio::test]
async fn a_frame_over_max_frame_size_fails_with_1009() {
    let server = Config::default().max_frame_size(1000);
    assert_too_big_for_server(
        Config::default(),
        server,
        Message::binary(pattern(1001, 2)),
        1000,
    )
    .await;
}

#[tokio::test]
async fn messages_at_the_limits_pass() {
    let server = Config::default()
        .max_message_size(1000)
        .max_frame_size(1000);
    let (mut client, mut server) =
        pair_with(Config::default(), Acceptor::new().config(server)).await;
    let msg = Message::binary(pattern(1000, 3));
    within(client.send(msg.clone())).await.unwrap();
    assert_eq!(within(server.recv()).await.unwrap().unwrap(), msg);
}

#[tokio::test]
async fn a_client_fails_a_message_over_its_own_limit_too() {
    let client = Config::default().max_message_size(1000);
    let (mut client, mut server) = pair_with(client, Acceptor::new()).await;
    within(server.send(Message::binary(pattern(5000, 4))))
        .await
        .unwrap();
    let items = within(drain(&mut client)).await;
    assert_eq!(items.len(), 1, "{items:?}");
    assert!(
        matches!(items[0], Err(Error::MessageTooBig { limit: 1000 })),
        "{items:?}"
    );
    let items = within(drain(&mut server)).await;
    match items.as_slice() {
        [Ok(Message::Close(Some(frame)))] => assert_eq!(frame.code, CloseCode::MESSAGE_TOO_BIG),
        other => panic!("the server's stream gave {other:?}"),
    }
}

// ----- the opening handshake ---------------------------------------------------

/// Serves one raw exchange: sends `request` to an acceptor, returns the raw
/// response and what the acceptor returned.
async fn refused(acceptor: Acceptor, request: Vec<u8>) -> (String, Error) {
    let (listener, _) = listen().await;
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (mut tcp, _) = listener.accept().await.unwrap();
        // Borrow the socket, so that it outlives the refusal: dropping it
        // with request bytes unread resets the connection, and the client
        // can lose the response. (A server that drops the socket right
        // after `accept` fails has that problem; the test should not.)
        let result = acceptor.accept(&mut tcp).await.map(|_| ());
        (result, tcp)
    });
    let response = raw_exchange(addr, &request).await;
    let (result, _tcp) = within(server).await.unwrap();
    (
        response,
        result.expect_err("the handshake should be refused"),
    )
}

#[tokio::test]
async fn a_request_head_over_the_limit_gets_431() {
    let limits = Limits {
        max_head_bytes: 1024,
        max_headers: 64,
    };
    let request = GOOD_REQUEST.replace(
        "\r\n\r\n",
        &format!("\r\nX-Padding: {}\r\n\r\n", "a".repeat(2000)),
    );
    let (response, error) = refused(Acceptor::new().limits(limits), request.into_bytes()).await;
    assert_eq!(status_of(&response), 431, "{response}");
    assert!(
        response.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"),
        "{response}"
    );
    assert!(
        matches!(error, Error::Handshake(HandshakeError::HeadTooLarge(1024))),
        "{error:?}"
    );
}

#[tokio::test]
async fn too_many_headers_get_431() {
    let limits = Limits {
        max_head_bytes: 16 * 1024,
        max_headers: 8,
    };
    let extra: String = (0..10).map(|i| format!("X-Header-{i}: {i}\r\n")).collect();
    let request = GOOD_REQUEST.replace("\r\n\r\n", &format!("\r\n{extra}\r\n"));
    let (response, error) = refused(Acceptor::new().limits(limits), request.into_bytes()).await;
    assert_eq!(status_of(&response), 431, "{response}");
    assert!(
        matches!(error, Error::Handshake(HandshakeError::TooManyHeaders(8))),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_wrong_websocket_version_gets_426_naming_13() {
    let request = GOOD_REQUEST.replace("Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 8");
    let (response, error) = refused(Acceptor::new(), request.into_bytes()).await;
    assert_eq!(status_of(&response), 426, "{response}");
    assert_eq!(
        header_of(&response, "Sec-WebSocket-Version"),
        Some("13"),
        "{response}"
    );
    assert!(
        matches!(error, Error::Handshake(HandshakeError::UnsupportedVersion)),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_post_gets_405_allowing_get() {
    let request = GOOD_REQUEST.replace("GET /chat", "POST /chat");
    let (response, error) = refused(Acceptor::new(), request.into_bytes()).await;
    assert_eq!(status_of(&response), 405, "{response}");
    assert_eq!(header_of(&response, "Allow"), Some("GET"), "{response}");
    assert!(
        matches!(&error, Error::Handshake(HandshakeError::MethodNotAllowed(m)) if m == "POST"),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_missing_key_gets_400() {
    let request = GOOD_REQUEST.replace("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", "");
    let (response, error) = refused(Acceptor::new(), request.into_bytes()).await;
    assert_eq!(status_of(&response), 400, "{response}");
    assert_eq!(body_of(&response), "missing or invalid Sec-WebSocket-Key\n");
    assert_eq!(
        header_of(&response, "Content-Length"),
        Some(body_of(&response).len().to_string().as_str())
    );
    assert!(
        matches!(error, Error::Handshake(HandshakeError::InvalidKey)),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_slowloris_client_is_cut_off_by_the_handshake_timeout() {
    let timeout = Duration::from_millis(300);
    let (listener, _) = listen().await;
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let start = Instant::now();
        let result = Acceptor::new().handshake_timeout(timeout).accept(tcp).await;
        (result.map(|_| ()), start.elapsed())
    });

    // One byte every 100 ms: the request would take ~15 s to arrive.
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let mut request = GOOD_REQUEST.bytes();
    let mut first = [0u8; 1];
    let n = within(async {
        loop {
            tokio::select! {
                read = tcp.read(&mut first) => break read,
                _ = tokio::time::sleep(Duration::from_millis(100)) => {
                    let byte = request.next().expect("the whole request went out: not cut off");
                    tcp.write_all(&[byte]).await.unwrap();
                }
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(n, 1, "the server closed without answering");
    let response = format!("{}{}", first[0] as char, read_to_close(&mut tcp).await);
    assert_eq!(status_of(&response), 408, "{response}");

    let (result, elapsed) = within(server).await.unwrap();
    assert!(
        matches!(
            result,
            Err(Error::Timeout("receiving the handshake request"))
        ),
        "{result:?}"
    );
    assert!(elapsed >= timeout, "cut off after {elapsed:?}");
}
