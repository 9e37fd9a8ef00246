//! permessage-deflate (RFC 7692) end to end: negotiation, compressed
//! messages of every shape both ways, and the size limit applied after
//! inflating.

mod common;

use common::*;
use duplex::{Acceptor, CloseCode, Config, DeflateConfig, Error, Message};

fn deflate_config(deflate: DeflateConfig) -> Config {
    Config::default().deflate(Some(deflate))
}

/// Messages that exercise compression: compressible and not, tiny (sent
/// uncompressed) and empty, and a run of similar ones that profit from the
/// shared window.
fn messages() -> Vec<Message> {
    let mut msgs = vec![
        Message::text("the quick brown fox ✓ ".repeat(50_000)),
        Message::binary(pattern(200_000, 21)),
        Message::text("tiny"),
        Message::text(""),
        Message::binary(vec![0u8; 100_000]),
    ];
    msgs.extend((0..100).map(|i| {
        Message::text(format!(
            "{{\"event\":\"tick\",\"seq\":{i},\"pad\":\"{}\"}}",
            "x".repeat(i)
        ))
    }));
    msgs
}

async fn round_trips_compressed(client: Config, server: Config) {
    let (mut client, mut server) = pair_with(client, Acceptor::new().config(server)).await;
    assert!(
        client.is_compressed(),
        "client did not negotiate permessage-deflate"
    );
    assert!(
        server.is_compressed(),
        "server did not negotiate permessage-deflate"
    );
    for msg in messages() {
        let (sent, got) =
            within(async { tokio::join!(client.send(msg.clone()), server.recv()) }).await;
        sent.unwrap();
        assert_messages_eq(&got.expect("server stream ended").unwrap(), &msg);
        let (sent, got) =
            within(async { tokio::join!(server.send(msg.clone()), client.recv()) }).await;
        sent.unwrap();
        assert_messages_eq(&got.expect("client stream ended").unwrap(), &msg);
    }
}

#[tokio::test]
async fn compressed_messages_round_trip_with_context_takeover() {
    let config = deflate_config(DeflateConfig::default());
    round_trips_compressed(config.clone(), config).await;
}

#[tokio::test]
async fn compressed_messages_round_trip_without_context_takeover() {
    let deflate = DeflateConfig::default()
        .with_server_no_context_takeover(true)
        .with_client_no_context_takeover(true)
        .with_client_max_window_bits(10)
        .with_server_max_window_bits(11);
    round_trips_compressed(deflate_config(deflate.clone()), deflate_config(deflate)).await;
}

#[tokio::test]
async fn compressed_messages_can_be_fragmented() {
    let deflate = deflate_config(DeflateConfig::default());
    let config = deflate.max_send_frame_size(1000).max_frame_size(1000);
    round_trips_compressed(config.clone(), config).await;
}

#[tokio::test]
async fn compressed_messages_are_smaller_on_the_wire() {
    // A 1 MiB message only fits through a 64 KiB frame limit compressed.
    let config = deflate_config(DeflateConfig::default()).max_frame_size(64 << 10);
    let (mut client, mut server) = pair_with(config.clone(), Acceptor::new().config(config)).await;
    let msg = Message::text("compress me, please; ".repeat(50_000));
    assert!(msg.len() > 1 << 20);
    let (sent, got) = within(async { tokio::join!(client.send(msg.clone()), server.recv()) }).await;
    sent.unwrap();
    assert_messages_eq(&got.unwrap().unwrap(), &msg);
    let (sent, got) = within(async { tokio::join!(server.send(msg.clone()), client.recv()) }).await;
    sent.unwrap();
    assert_messages_eq(&got.unwrap().unwrap(), &msg);
}

#[tokio::test]
async fn compression_needs_both_sides() {
    for (client, server) in [
        (deflate_config(DeflateConfig::default()), Config::default()),
        (Config::default(), deflate_config(DeflateConfig::default())),
    ] {
        let (mut client, mut server) = pair_with(client, Acceptor::new().config(server)).await;
        assert!(!client.is_compressed());
        assert!(!server.is_compressed());
        let msg = Message::text("plain ".repeat(1000));
        within(client.send(msg.clone())).await.unwrap();
        assert_eq!(within(server.recv()).await.unwrap().unwrap(), msg);
    }
}

#[tokio::test]
async fn the_message_size_limit_applies_after_inflating() {
    // 1 MiB of zeros deflates to about a kilobyte: well under the limit on
    // the wire, far over it once inflated.
    let client = deflate_config(DeflateConfig::default());
    // The frame limit is lower still: were the message sent uncompressed, it
    // would fail on the frame limit (16384), not the message limit.
    let server = deflate_config(DeflateConfig::default())
        .max_message_size(64 << 10)
        .max_frame_size(16 << 10);
    let (mut client, mut server) = pair_with(client, Acceptor::new().config(server)).await;
    assert!(server.is_compressed());
    within(client.send(Message::binary(vec![0u8; 1 << 20])))
        .await
        .unwrap();

    let got = within(server.recv()).await.unwrap();
    assert!(
        matches!(got, Err(Error::MessageTooBig { limit: 65536 })),
        "{got:?}"
    );
    assert!(within(server.recv()).await.is_none());

    match within(client.recv()).await.unwrap().unwrap() {
        Message::Close(Some(frame)) => assert_eq!(frame.code, CloseCode::MESSAGE_TOO_BIG),
        other => panic!("expected a 1009 close frame, got {other:?}"),
    }
}
