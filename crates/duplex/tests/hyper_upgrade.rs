//! Upgrading requests of a hyper 1.x HTTP/1.1 server to WebSockets with
//! `duplex::hyper::upgrade`, next to ordinary HTTP on the same server.

#![cfg(feature = "hyper")]

mod common;

use std::convert::Infallible;

use common::*;
use duplex::hyper::{is_upgrade_request, upgrade};
use duplex::{Acceptor, ClientBuilder, CloseCode, CloseFrame, CloseStatus, Message};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::sync::mpsc;

/// What the server reports for each WebSocket it served.
type Served = (Option<String>, EchoLog);

/// The service: WebSocket upgrades become echo connections, anything else
/// gets a plain answer.
async fn handle(
    mut req: http::Request<Incoming>,
    acceptor: Acceptor,
    served: mpsc::UnboundedSender<Served>,
) -> Result<http::Response<String>, Infallible> {
    if !is_upgrade_request(&req) {
        return Ok(http::Response::new(format!(
            "plain HTTP for {}",
            req.uri().path()
        )));
    }
    match upgrade::<_, String>(&mut req, &acceptor) {
        Ok((response, websocket)) => {
            tokio::spawn(async move {
                let ws = websocket.await.expect("hyper hands over the connection");
                let protocol = ws.protocol().map(str::to_string);
                let _ = served.send((protocol, echo(ws).await));
            });
            Ok(response)
        }
        Err(e) => Ok(http::Response::builder()
            .status(e.http_status())
            .body(e.to_string())
            .expect("a valid response")),
    }
}

/// A hyper server on 127.0.0.1:0 serving connections until the test ends;
/// returns its address and a channel reporting each finished WebSocket.
async fn hyper_server(
    acceptor: Acceptor,
) -> (std::net::SocketAddr, mpsc::UnboundedReceiver<Served>) {
    let (listener, _) = listen().await;
    let addr = listener.local_addr().unwrap();
    let (served_tx, served_rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            let served = served_tx.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req| handle(req, acceptor.clone(), served.clone()));
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(tcp), service)
                    .with_upgrades()
                    .await;
            });
        }
    });
    (addr, served_rx)
}

#[tokio::test]
async fn a_hyper_upgrade_round_trips_messages() {
    let (addr, mut served) = hyper_server(Acceptor::new().subprotocol("b")).await;
    let (mut ws, response) = within(
        ClientBuilder::new(&format!("ws://{addr}/ws"))
            .unwrap()
            .subprotocol("a")
            .subprotocol("b")
            .connect(),
    )
    .await
    .unwrap();
    assert_eq!(response.status, 101);
    assert_eq!(ws.protocol(), Some("b"));

    round_trip(&mut ws, Message::text("through hyper")).await;
    round_trip(&mut ws, Message::binary(pattern(200_000, 5))).await;
    within(ws.send(Message::Ping("hyper ping".into())))
        .await
        .unwrap();
    assert_eq!(
        within(ws.recv()).await.unwrap().unwrap(),
        Message::Pong("hyper ping".into())
    );
    let status = within(ws.close(CloseCode::NORMAL, "bye")).await.unwrap();
    assert_eq!(
        status,
        Some(CloseStatus::Clean(Some(CloseFrame::new(1000, ""))))
    );

    let (protocol, log) = within(served.recv()).await.unwrap();
    assert_eq!(protocol.as_deref(), Some("b"));
    assert_eq!(log.echoed, 2);
    assert_eq!(
        log.control,
        [
            Message::Ping("hyper ping".into()),
            Message::Close(Some(CloseFrame::new(1000, "bye")))
        ]
    );
    assert_eq!(
        log.status,
        Some(CloseStatus::Clean(Some(CloseFrame::new(1000, "bye"))))
    );
}

#[tokio::test]
async fn a_plain_request_gets_a_normal_response() {
    let (addr, _served) = hyper_server(Acceptor::new()).await;
    let response = raw_exchange(
        addr,
        b"GET /index HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status_of(&response), 200, "{response}");
    assert_eq!(body_of(&response), "plain HTTP for /index");
}

#[tokio::test]
async fn a_bad_upgrade_request_gets_the_errors_status() {
    let (addr, _served) = hyper_server(Acceptor::new()).await;

    // `close` so that hyper ends the connection after its answer.
    let good = GOOD_REQUEST.replace("Connection: Upgrade", "Connection: Upgrade, close");

    let request = good.replace("Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 8");
    let response = raw_exchange(addr, request.as_bytes()).await;
    assert_eq!(status_of(&response), 426, "{response}");
    assert_eq!(
        body_of(&response),
        "unsupported WebSocket version (only 13 is supported)"
    );

    let request = good.replace("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", "");
    let response = raw_exchange(addr, request.as_bytes()).await;
    assert_eq!(status_of(&response), 400, "{response}");
    assert_eq!(body_of(&response), "missing or invalid Sec-WebSocket-Key");

    // Our client reports the status.
    let result = within(
        ClientBuilder::new(&format!("ws://{addr}/"))
            .unwrap()
            .header("Sec-WebSocket-Version", "8")
            .connect(),
    )
    .await;
    match result {
        // Two version headers, "13" and "8": not version 13.
        Err(duplex::Error::HttpStatus { status, .. }) => assert_eq!(status, 426),
        Err(other) => panic!("expected an HTTP status error, got {other:?}"),
        Ok(_) => panic!("connected despite a repeated version header"),
    }
}
