//! Interoperability with tokio-tungstenite, an independent implementation,
//! in both roles: our client against its server, its client against ours.

mod common;

use common::*;
use duplex::{Acceptor, CloseCode, CloseFrame, CloseStatus, Message};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite;
use tungstenite::protocol::frame::coding::CloseCode as TCloseCode;
use tungstenite::protocol::CloseFrame as TCloseFrame;
use tungstenite::Message as TMessage;

/// What a tungstenite echo server saw.
#[derive(Debug, Default)]
struct TungsteniteLog {
    echoed: usize,
    /// Close frames received, as (code, reason).
    closes: Vec<Option<(u16, String)>>,
    pings: Vec<Vec<u8>>,
}

/// A tokio-tungstenite server that echoes data messages on one connection.
async fn tungstenite_echo_server() -> (String, tokio::task::JoinHandle<TungsteniteLog>) {
    let (listener, url) = listen().await;
    let task = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
        let mut log = TungsteniteLog::default();
        while let Some(msg) = ws.next().await {
            match msg {
                Ok(msg @ (TMessage::Text(_) | TMessage::Binary(_))) => {
                    ws.send(msg).await.unwrap();
                    log.echoed += 1;
                }
                Ok(TMessage::Ping(payload)) => log.pings.push(payload.to_vec()),
                Ok(TMessage::Close(frame)) => log
                    .closes
                    .push(frame.map(|f| (u16::from(f.code), f.reason.as_str().to_string()))),
                Ok(_) => {}
                Err(_) => break,
            }
        }
        log
    });
    (url, task)
}

#[tokio::test]
async fn our_client_with_a_tungstenite_server() {
    let (url, server) = tungstenite_echo_server().await;
    let (mut ws, _) = within(duplex::connect(&url)).await.unwrap();

    round_trip(&mut ws, Message::text("hello, tungstenite ✓")).await;
    round_trip(&mut ws, Message::binary(vec![0u8, 1, 2, 254, 255])).await;
    round_trip(&mut ws, Message::text("")).await;
    round_trip(&mut ws, Message::binary(pattern(1 << 20, 11))).await;

    within(ws.send(Message::Ping("ping from duplex".into())))
        .await
        .unwrap();
    assert_eq!(
        within(ws.recv()).await.unwrap().unwrap(),
        Message::Pong("ping from duplex".into())
    );

    let status = within(ws.close(CloseCode(4001), "interop done"))
        .await
        .unwrap();
    // tungstenite echoes the whole close frame, reason included.
    assert_eq!(
        status,
        Some(CloseStatus::Clean(Some(CloseFrame::new(
            4001,
            "interop done"
        ))))
    );

    let log = within(server).await.unwrap();
    assert_eq!(log.echoed, 4);
    assert_eq!(log.pings, [b"ping from duplex".to_vec()]);
    assert_eq!(log.closes, [Some((4001, "interop done".to_string()))]);
}

#[tokio::test]
async fn our_client_is_closed_by_a_tungstenite_server() {
    let (listener, url) = listen().await;
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
        ws.close(Some(TCloseFrame {
            code: TCloseCode::Away,
            reason: "server going away".into(),
        }))
        .await
        .unwrap();
        // Read the reply.
        let mut seen = Vec::new();
        while let Some(Ok(msg)) = ws.next().await {
            seen.push(msg);
        }
        seen
    });
    let (mut ws, _) = within(duplex::connect(&url)).await.unwrap();
    let got = within(ws.recv()).await.unwrap().unwrap();
    assert_eq!(
        got,
        Message::Close(Some(CloseFrame::new(1001, "server going away")))
    );
    assert!(within(ws.recv()).await.is_none());
    assert_eq!(
        ws.close_status(),
        Some(CloseStatus::Clean(Some(CloseFrame::new(
            1001,
            "server going away"
        ))))
    );

    let seen = within(server).await.unwrap();
    // Our reply echoes the code without the reason.
    assert_eq!(
        seen,
        [TMessage::Close(Some(TCloseFrame {
            code: TCloseCode::Away,
            reason: "".into()
        }))]
    );
}

#[tokio::test]
async fn a_tungstenite_client_with_our_server() {
    let (url, server) = echo_server(Acceptor::new()).await;
    let (mut ws, response) = within(tokio_tungstenite::connect_async(url.as_str()))
        .await
        .unwrap();
    assert_eq!(response.status(), 101);

    let big: Vec<u8> = pattern(1 << 20, 12).to_vec();
    let messages = [
        TMessage::text("hello, duplex ✓"),
        TMessage::binary(vec![9u8, 8, 7]),
        TMessage::text(""),
        TMessage::binary(big),
    ];
    for msg in messages {
        within(ws.send(msg.clone())).await.unwrap();
        let got = within(ws.next()).await.unwrap().unwrap();
        assert!(got == msg, "echo of a {}-byte message differs", msg.len());
    }

    within(ws.send(TMessage::Ping("ping from tungstenite".into())))
        .await
        .unwrap();
    let got = within(ws.next()).await.unwrap().unwrap();
    assert_eq!(got, TMessage::Pong("ping from tungstenite".into()));

    within(ws.close(Some(TCloseFrame {
        code: TCloseCode::from(4002),
        reason: "tungstenite done".into(),
    })))
    .await
    .unwrap();
    let got = within(ws.next()).await.unwrap().unwrap();
    assert_eq!(
        got,
        TMessage::Close(Some(TCloseFrame {
            code: TCloseCode::from(4002),
            reason: "".into()
        }))
    );
    // Then the server closes the connection.
    assert!(within(ws.next()).await.is_none());

    let log = within(server).await.unwrap();
    assert_eq!(log.echoed, 4);
    assert_eq!(
        log.control,
        [
            Message::Ping("ping from tungstenite".into()),
            Message::Close(Some(CloseFrame::new(4002, "tungstenite done"))),
        ]
    );
    assert!(log.errors.is_empty(), "{:?}", log.errors);
    assert_eq!(
        log.status,
        Some(CloseStatus::Clean(Some(CloseFrame::new(
            4002,
            "tungstenite done"
        ))))
    );
}

#[tokio::test]
async fn our_server_closes_a_tungstenite_client() {
    let (listener, url) = listen().await;
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut ws = Acceptor::new().accept(tcp).await.unwrap();
        ws.close(CloseCode::GOING_AWAY, "restarting").await.unwrap()
    });
    let (mut ws, _) = within(tokio_tungstenite::connect_async(url.as_str()))
        .await
        .unwrap();
    let got = within(ws.next()).await.unwrap().unwrap();
    assert_eq!(
        got,
        TMessage::Close(Some(TCloseFrame {
            code: TCloseCode::Away,
            reason: "restarting".into()
        }))
    );
    // tungstenite replies while it reads on; then the server closes TCP.
    assert!(within(ws.next()).await.is_none());

    let status = within(server).await.unwrap();
    assert_eq!(
        status,
        Some(CloseStatus::Clean(Some(CloseFrame::new(
            1001,
            "restarting"
        ))))
    );
}
