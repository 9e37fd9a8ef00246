//! Every way a connection ends (RFC 6455 §7): the closing handshake started
//! by either side, a close frame without a status code, a peer that
//! vanishes, the server closing TCP first, and a peer that never answers.

mod common;

use std::time::{Duration, Instant};

use common::*;
use duplex::{CloseCode, CloseFrame, CloseStatus, Error, Message};
use tokio::io::AsyncReadExt;

#[tokio::test]
async fn client_initiated_close_is_clean_on_both_sides() {
    let (mut client, mut server) = pair().await;
    let server_task = tokio::spawn(async move {
        let items = drain(&mut server).await;
        (items, server.close_status())
    });

    let status = within(client.close(CloseCode(4000), "client is done"))
        .await
        .unwrap();
    // The server echoes the code without the reason (§5.5.1).
    assert_eq!(
        status,
        Some(CloseStatus::Clean(Some(CloseFrame::new(4000, ""))))
    );
    assert_eq!(client.close_status(), status);

    let (items, server_status) = within(server_task).await.unwrap();
    let items: Vec<Message> = items.into_iter().map(Result::unwrap).collect();
    // The close frame, then the end of the stream.
    assert_eq!(
        items,
        [Message::Close(Some(CloseFrame::new(
            4000,
            "client is done"
        )))]
    );
    assert_eq!(
        server_status,
        Some(CloseStatus::Clean(Some(CloseFrame::new(
            4000,
            "client is done"
        ))))
    );

    // Nothing can be sent after the close.
    assert!(matches!(
        within(client.send(Message::text("late"))).await,
        Err(Error::Closed)
    ));
}

#[tokio::test]
async fn server_initiated_close_is_clean_on_both_sides() {
    let (mut client, mut server) = pair().await;
    let client_task = tokio::spawn(async move {
        let items = drain(&mut client).await;
        (items, client.close_status())
    });

    let status = within(server.close(CloseCode::GOING_AWAY, "restarting"))
        .await
        .unwrap();
    assert_eq!(
        status,
        Some(CloseStatus::Clean(Some(CloseFrame::new(1001, ""))))
    );

    let (items, client_status) = within(client_task).await.unwrap();
    let items: Vec<Message> = items.into_iter().map(Result::unwrap).collect();
    assert_eq!(
        items,
        [Message::Close(Some(CloseFrame::new(1001, "restarting")))]
    );
    assert_eq!(
        client_status,
        Some(CloseStatus::Clean(Some(CloseFrame::new(
            1001,
            "restarting"
        ))))
    );
}

#[tokio::test]
async fn close_without_status_is_reported_as_1005() {
    let (mut client, mut server) = pair().await;
    let server_task = tokio::spawn(async move {
        let items = drain(&mut server).await;
        (items, server.close_status())
    });

    within(client.send(Message::Close(None))).await.unwrap();
    let items: Vec<Message> = within(drain(&mut client))
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    // The reply to an empty close frame is an empty close frame.
    assert_eq!(items, [Message::Close(None)]);
    assert_eq!(client.close_status(), Some(CloseStatus::Clean(None)));
    assert_eq!(client.close_status().unwrap().code(), CloseCode::NO_STATUS);

    let (items, server_status) = within(server_task).await.unwrap();
    let items: Vec<Message> = items.into_iter().map(Result::unwrap).collect();
    assert_eq!(items, [Message::Close(None)]);
    assert_eq!(server_status, Some(CloseStatus::Clean(None)));
    assert_eq!(server_status.unwrap().code(), CloseCode(1005));
}

/// The stream of `ws` after its peer vanished: one error (abnormal closure,
/// or the I/O error of a reset), then the end.
async fn assert_peer_vanished<S>(ws: &mut duplex::WebSocket<S>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let items = within(drain(ws)).await;
    assert_eq!(items.len(), 1, "{items:?}");
    assert!(
        matches!(items[0], Err(Error::AbnormalClosure) | Err(Error::Io(_))),
        "{items:?}"
    );
    assert_eq!(ws.close_status(), Some(CloseStatus::Abnormal));
    assert_eq!(ws.close_status().unwrap().code(), CloseCode::ABNORMAL);
}

#[tokio::test]
async fn client_vanishing_without_close_is_abnormal_for_the_server() {
    let (mut client, mut server) = pair().await;
    round_trip_once(&mut client, &mut server).await;
    drop(client);
    assert_peer_vanished(&mut server).await;
}

#[tokio::test]
async fn server_vanishing_without_close_is_abnormal_for_the_client() {
    let (mut client, mut server) = pair().await;
    round_trip_once(&mut client, &mut server).await;
    drop(server);
    assert_peer_vanished(&mut client).await;
}

async fn round_trip_once(client: &mut Client, server: &mut Server) {
    within(client.send(Message::text("still here")))
        .await
        .unwrap();
    assert_eq!(
        within(server.recv()).await.unwrap().unwrap(),
        Message::text("still here")
    );
}

#[tokio::test]
async fn after_the_closing_handshake_the_server_closes_tcp_first() {
    let (mut client, mut server) = pair().await;
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
    let server_task = tokio::spawn(async move {
        let items = drain(&mut server).await;
        // Keep the socket open: the client must see the server's shutdown,
        // not the effect of dropping the socket.
        let _ = done_rx.await;
        (items.len(), server.close_status())
    });

    // Do the client's part by hand, so the transport can be read directly.
    within(client.send(Message::Close(Some(CloseFrame::new(1000, "bye")))))
        .await
        .unwrap();
    let reply = within(client.recv()).await.unwrap().unwrap();
    assert_eq!(reply, Message::Close(Some(CloseFrame::new(1000, ""))));
    let mut byte = [0u8; 1];
    let n = within(client.get_mut().read(&mut byte)).await.unwrap();
    assert_eq!(
        n, 0,
        "the server should have closed TCP after the closing handshake"
    );

    done_tx.send(()).unwrap();
    let (items, status) = within(server_task).await.unwrap();
    assert_eq!(items, 1);
    assert_eq!(
        status,
        Some(CloseStatus::Clean(Some(CloseFrame::new(1000, "bye"))))
    );
}

#[tokio::test]
async fn client_close_returns_when_the_server_closes_tcp_not_at_the_timeout() {
    let (mut client, mut server) = pair().await;
    // With a close timeout far beyond the test's limit, `close` only returns
    // in time if the server closes TCP as RFC 6455 §7.1.1 asks.
    client.set_close_timeout(Duration::from_secs(3600));
    let server_task = tokio::spawn(async move { drain(&mut server).await.len() });
    let status = within(client.close(CloseCode::NORMAL, "")).await.unwrap();
    assert_eq!(
        status,
        Some(CloseStatus::Clean(Some(CloseFrame::new(1000, ""))))
    );
    assert_eq!(within(server_task).await.unwrap(), 1);
}

#[tokio::test]
async fn close_timeout_ends_a_close_the_client_never_answers() {
    let (client, mut server) = pair().await;
    // The client is never polled: it never replies to the close frame.
    let timeout = Duration::from_millis(300);
    server.set_close_timeout(timeout);
    let start = Instant::now();
    let status = within(server.close(CloseCode::NORMAL, "anyone?"))
        .await
        .unwrap();
    let elapsed = start.elapsed();
    // No reply, so no clean close to report.
    assert_eq!(status, None);
    assert!(
        elapsed >= timeout,
        "gave up after {elapsed:?}, before the timeout"
    );
    assert!(
        elapsed < duplex::DEFAULT_CLOSE_TIMEOUT,
        "took {elapsed:?}: the configured timeout was ignored"
    );
    assert!(within(server.recv()).await.is_none());
    drop(client);
}

#[tokio::test]
async fn close_timeout_ends_a_close_the_server_never_answers() {
    let (mut client, server) = pair().await;
    // The server is never polled: it never replies to the close frame.
    let timeout = Duration::from_millis(300);
    client.set_close_timeout(timeout);
    let start = Instant::now();
    let status = within(client.close(CloseCode::NORMAL, "anyone?"))
        .await
        .unwrap();
    let elapsed = start.elapsed();
    assert_eq!(status, None);
    assert!(
        elapsed >= timeout,
        "gave up after {elapsed:?}, before the timeout"
    );
    assert!(
        elapsed < duplex::DEFAULT_CLOSE_TIMEOUT,
        "took {elapsed:?}: the configured timeout was ignored"
    );
    assert!(within(client.recv()).await.is_none());
    drop(server);
}

#[tokio::test]
async fn a_close_frame_arriving_while_both_close_at_once_completes_cleanly() {
    // Both sides send a close frame before reading the other's (§7.1.2
    // allows it): each takes the other's frame as the reply.
    let (mut client, mut server) = pair().await;
    within(client.send(Message::Close(Some(CloseFrame::new(4001, "from client")))))
        .await
        .unwrap();
    within(server.send(Message::Close(Some(CloseFrame::new(4002, "from server")))))
        .await
        .unwrap();
    let (client_items, server_items) =
        within(async { tokio::join!(drain(&mut client), drain(&mut server)) }).await;
    let client_items: Vec<Message> = client_items.into_iter().map(Result::unwrap).collect();
    let server_items: Vec<Message> = server_items.into_iter().map(Result::unwrap).collect();
    assert_eq!(
        client_items,
        [Message::Close(Some(CloseFrame::new(4002, "from server")))]
    );
    assert_eq!(
        server_items,
        [Message::Close(Some(CloseFrame::new(4001, "from client")))]
    );
    assert_eq!(
        client.close_status(),
        Some(CloseStatus::Clean(Some(CloseFrame::new(
            4002,
            "from server"
        ))))
    );
    assert_eq!(
        server.close_status(),
        Some(CloseStatus::Clean(Some(CloseFrame::new(
            4001,
            "from client"
        ))))
    );
}

#[tokio::test]
async fn an_unsendable_close_code_is_refused_and_the_connection_stays_open() {
    let (mut client, mut server) = pair().await;
    // 1005 and 1006 are only ever reported, never sent (§7.4.1).
    for code in [CloseCode::NO_STATUS, CloseCode::ABNORMAL, CloseCode(999)] {
        let result = within(client.close(code, "")).await;
        assert!(
            matches!(result, Err(Error::InvalidInput(_))),
            "{code}: {result:?}"
        );
    }
    let result = within(client.send(Message::Ping(vec![0u8; 126].into()))).await;
    assert!(matches!(result, Err(Error::InvalidInput(_))), "{result:?}");
    // Nothing went out; the connection still works.
    within(client.send(Message::text("still open")))
        .await
        .unwrap();
    assert_eq!(
        within(server.recv()).await.unwrap().unwrap(),
        Message::text("still open")
    );
    assert_eq!(client.close_status(), None);
}
