//! The opening handshake API (RFC 6455 §4): looking at the request before
//! answering, refusing it, subprotocol negotiation, and extra headers both
//! ways.

mod common;

use common::*;
use duplex::{Accept, Acceptor, ClientBuilder, Error, Message};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

#[tokio::test]
async fn a_server_can_look_at_the_request_and_refuse_it() {
    let (listener, url) = listen().await;
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let handshake = Acceptor::new().handshake(tcp).await.unwrap();
        let request = handshake.request();
        let seen = (
            request.method.clone(),
            request.path.clone(),
            request.header("authorization").map(str::to_string),
        );
        handshake
            .reject(403, "forbidden: bad token\n")
            .await
            .unwrap();
        seen
    });

    let result = within(
        ClientBuilder::new(&format!("{url}private?room=1"))
            .unwrap()
            .header("Authorization", "Bearer nope")
            .connect(),
    )
    .await;
    match result {
        Err(Error::HttpStatus {
            status,
            headers,
            body,
        }) => {
            assert_eq!(status, 403);
            assert_eq!(&body[..], b"forbidden: bad token\n");
            let content_length = headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                .map(|h| h.value.clone());
            assert_eq!(content_length, Some(b"21".to_vec()));
        }
        Err(other) => panic!("expected HTTP 403, got {other:?}"),
        Ok(_) => panic!("expected HTTP 403, got a connection"),
    }

    let (method, path, authorization) = within(server).await.unwrap();
    assert_eq!(method, "GET");
    assert_eq!(path, "/private?room=1");
    assert_eq!(authorization.as_deref(), Some("Bearer nope"));
}

/// Connects a client offering `offered` to a server speaking `spoken`;
/// returns the protocol each side settled on and the response header.
async fn negotiate(
    offered: &[&str],
    spoken: &[&str],
) -> (Option<String>, Option<String>, Option<String>) {
    let mut acceptor = Acceptor::new();
    for p in spoken {
        acceptor = acceptor.subprotocol(*p);
    }
    let (listener, url) = listen().await;
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        acceptor.accept(tcp).await.unwrap()
    });
    let mut builder = ClientBuilder::new(&url).unwrap();
    for p in offered {
        builder = builder.subprotocol(*p);
    }
    let (client, response) = within(builder.connect()).await.unwrap();
    let server = within(server).await.unwrap();
    (
        client.protocol().map(str::to_string),
        server.protocol().map(str::to_string),
        response
            .header("Sec-WebSocket-Protocol")
            .map(str::to_string),
    )
}

#[tokio::test]
async fn the_subprotocol_both_speak_is_chosen() {
    let b = Some("b".to_string());
    assert_eq!(
        negotiate(&["a", "b"], &["b", "c"]).await,
        (b.clone(), b.clone(), b)
    );
}

#[tokio::test]
async fn the_clients_preference_wins_among_shared_subprotocols() {
    let b = Some("b".to_string());
    assert_eq!(
        negotiate(&["b", "a"], &["a", "b"]).await,
        (b.clone(), b.clone(), b)
    );
}

#[tokio::test]
async fn no_shared_subprotocol_means_none() {
    assert_eq!(negotiate(&["a"], &["x"]).await, (None, None, None));
    assert_eq!(negotiate(&[], &["x"]).await, (None, None, None));
    assert_eq!(negotiate(&["a"], &[]).await, (None, None, None));
}

#[tokio::test]
async fn extra_headers_go_both_ways() {
    let (listener, url) = listen().await;
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let handshake = Acceptor::new().handshake(tcp).await.unwrap();
        let trace = handshake.request().header("X-Trace-Id").map(str::to_string);
        let origin = handshake.request().header("origin").map(str::to_string);
        let ws = handshake
            .accept_with(Accept {
                subprotocol: Some("chat".into()),
                headers: vec![
                    ("Set-Cookie".into(), "session=42; HttpOnly".into()),
                    ("X-Server".into(), "duplex-test".into()),
                ],
            })
            .await
            .unwrap();
        (trace, origin, echo(ws).await)
    });

    let (mut client, response) = within(
        ClientBuilder::new(&url)
            .unwrap()
            .header("X-Trace-Id", "abc-123")
            .header("Origin", "http://example.com")
            .subprotocol("chat")
            .connect(),
    )
    .await
    .unwrap();
    assert_eq!(response.status, 101);
    assert_eq!(response.header("set-cookie"), Some("session=42; HttpOnly"));
    assert_eq!(response.header("X-Server"), Some("duplex-test"));
    assert_eq!(client.protocol(), Some("chat"));
    round_trip(&mut client, Message::text("after the handshake")).await;
    within(client.close(duplex::CloseCode::NORMAL, ""))
        .await
        .unwrap();

    let (trace, origin, log) = within(server).await.unwrap();
    assert_eq!(trace.as_deref(), Some("abc-123"));
    assert_eq!(origin.as_deref(), Some("http://example.com"));
    assert_eq!(log.echoed, 1);
}

#[tokio::test]
async fn accepting_with_a_subprotocol_the_client_did_not_offer_is_refused() {
    let (listener, url) = listen().await;
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let handshake = Acceptor::new().handshake(tcp).await.unwrap();
        handshake
            .accept_with(Accept {
                subprotocol: Some("never-offered".into()),
                headers: Vec::new(),
            })
            .await
            .map(|_| ())
    });
    let client = tokio::spawn(
        ClientBuilder::new(&url)
            .unwrap()
            .subprotocol("chat")
            .connect(),
    );
    let result = within(server).await.unwrap();
    assert!(matches!(result, Err(Error::InvalidInput(_))), "{result:?}");
    // Nothing was sent; the dropped socket ends the client's wait.
    assert!(within(client).await.unwrap().is_err());
}

#[tokio::test]
async fn a_header_that_would_split_the_request_is_refused_before_sending() {
    let (_listener, url) = listen().await;
    let result = within(
        ClientBuilder::new(&url)
            .unwrap()
            .header("X-Evil", "1\r\nInjected: yes")
            .connect(),
    )
    .await;
    assert!(
        matches!(result, Err(Error::InvalidInput(_))),
        "{:?}",
        result.map(|_| ())
    );
}

/// A client frame: FIN set, masked with a fixed key (RFC 6455 §5.2, §5.3).
fn masked_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    assert!(payload.len() < 126);
    let key = [0x37, 0xfa, 0x21, 0x3d];
    let mut frame = vec![0x80 | opcode, 0x80 | payload.len() as u8];
    frame.extend_from_slice(&key);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    frame
}

#[tokio::test]
async fn frames_sent_with_the_request_are_not_lost() {
    // A client may send its first frames right behind the request, before
    // the 101 arrives; they reach the server in the same read as the head.
    let (listener, _) = listen().await;
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut ws = Acceptor::new().accept(tcp).await.unwrap();
        let first = ws.recv().await.unwrap().unwrap();
        let second = ws.recv().await.unwrap().unwrap();
        (first, second)
    });
    let mut bytes = GOOD_REQUEST.as_bytes().to_vec();
    bytes.extend(masked_frame(0x1, b"early"));
    bytes.extend(masked_frame(0x2, &[1, 2, 3]));
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    within(tcp.write_all(&bytes)).await.unwrap();
    let (first, second) = within(server).await.unwrap();
    assert_eq!(first, Message::text("early"));
    assert_eq!(second, Message::binary(vec![1u8, 2, 3]));
}

#[tokio::test]
async fn a_server_that_is_not_websocket_gives_an_http_status_error() {
    let (listener, url) = listen().await;
    let server = tokio::spawn(async move {
        let (mut tcp, _) = listener.accept().await.unwrap();
        let mut head = vec![0u8; 4096];
        let _ = tokio::io::AsyncReadExt::read(&mut tcp, &mut head).await;
        tcp.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
            .await
            .unwrap();
        tcp
    });
    let result = within(duplex::connect(&url)).await;
    match result {
        Err(Error::HttpStatus { status, body, .. }) => {
            assert_eq!(status, 200);
            assert_eq!(&body[..], b"hello");
        }
        Err(other) => panic!("expected an HTTP status error, got {other:?}"),
        Ok(_) => panic!("expected an HTTP status error, got a connection"),
    }
    drop(within(server).await.unwrap());
}
