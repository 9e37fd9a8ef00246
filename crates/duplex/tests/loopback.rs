//! Client and server over loopback TCP: messages of every kind and size,
//! fragmentation (RFC 6455 §5.4), ping/pong (§5.5.2, §5.5.3), pipelining,
//! and the split halves used from two tasks.

mod common;

use common::*;
use duplex::{Acceptor, CloseFrame, CloseStatus, Config, Message};
use futures_util::{SinkExt, StreamExt};

#[tokio::test]
async fn text_binary_and_empty_messages_arrive_intact_both_ways() {
    let (mut client, mut server) = pair().await;
    let messages = [
        Message::text("hello"),
        Message::text("héllo wörld ✓ 😀"),
        Message::binary(vec![0u8, 1, 2, 0x80, 0xff]),
        Message::text(""),
        Message::binary(Vec::new()),
        // The same bytes as text and as binary stay apart.
        Message::binary(b"hello".to_vec()),
    ];
    for msg in &messages {
        within(client.send(msg.clone())).await.unwrap();
        let got = within(server.recv())
            .await
            .expect("server stream ended")
            .unwrap();
        assert_eq!(&got, msg, "client -> server");
        within(server.send(msg.clone())).await.unwrap();
        let got = within(client.recv())
            .await
            .expect("client stream ended")
            .unwrap();
        assert_eq!(&got, msg, "server -> client");
    }
}

#[tokio::test]
async fn sixteen_mib_binary_message_both_ways() {
    // Exactly the default max_frame_size: the limit is inclusive.
    const SIZE: usize = 16 << 20;
    let (mut client, mut server) = pair().await;

    let up = Message::binary(pattern(SIZE, 1));
    let (sent, got) = within(async { tokio::join!(client.send(up.clone()), server.recv()) }).await;
    sent.unwrap();
    assert_messages_eq(&got.expect("server stream ended").unwrap(), &up);

    let down = Message::binary(pattern(SIZE, 2));
    let (sent, got) =
        within(async { tokio::join!(server.send(down.clone()), client.recv()) }).await;
    sent.unwrap();
    assert_messages_eq(&got.expect("client stream ended").unwrap(), &down);
}

#[tokio::test]
async fn lengths_at_every_header_boundary_both_ways() {
    // 7-bit, 16-bit and 64-bit length forms (RFC 6455 §5.2), and either side
    // of the size from which payloads are queued without a copy.
    let (mut client, mut server) = pair().await;
    for (i, len) in [0, 1, 125, 126, 127, 2047, 2048, 65535, 65536, 65537]
        .into_iter()
        .enumerate()
    {
        let msg = Message::binary(pattern(len, i as u32));
        let (sent, got) =
            within(async { tokio::join!(client.send(msg.clone()), server.recv()) }).await;
        sent.unwrap();
        assert_messages_eq(&got.unwrap().unwrap(), &msg);
        let (sent, got) =
            within(async { tokio::join!(server.send(msg.clone()), client.recv()) }).await;
        sent.unwrap();
        assert_messages_eq(&got.unwrap().unwrap(), &msg);
    }
}

#[tokio::test]
async fn a_large_text_message_arriving_in_many_reads_is_valid_utf8() {
    // Read boundaries fall anywhere, inside characters too; the text is
    // validated as it arrives.
    let text: String = "aé€😀".chars().cycle().take(1 << 20).collect();
    let msg = Message::text(text);
    let (mut client, mut server) = pair().await;
    let (sent, got) = within(async { tokio::join!(client.send(msg.clone()), server.recv()) }).await;
    sent.unwrap();
    assert_messages_eq(&got.unwrap().unwrap(), &msg);
    let (sent, got) = within(async { tokio::join!(server.send(msg.clone()), client.recv()) }).await;
    sent.unwrap();
    assert_messages_eq(&got.unwrap().unwrap(), &msg);
}

#[tokio::test]
async fn fragmented_messages_are_reassembled() {
    // Both sides send frames of at most 1000 bytes and refuse larger ones, so
    // the messages below only arrive if they were really fragmented.
    let config = Config::default()
        .max_send_frame_size(1000)
        .max_frame_size(1000);
    let (mut client, mut server) = pair_with(config.clone(), Acceptor::new().config(config)).await;

    // 9-byte groups of 2-, 3- and 4-byte characters: frame boundaries every
    // 1000 bytes fall inside characters, which UTF-8 validation must allow.
    let text = Message::text("ü€😀".repeat(1111));
    let binary = Message::binary(pattern(5000, 3));
    for msg in [text, binary] {
        within(client.send(msg.clone())).await.unwrap();
        assert_messages_eq(&within(server.recv()).await.unwrap().unwrap(), &msg);
        within(server.send(msg.clone())).await.unwrap();
        assert_messages_eq(&within(client.recv()).await.unwrap().unwrap(), &msg);
    }
}

#[tokio::test]
async fn a_ping_is_answered_with_a_pong_carrying_its_payload() {
    let (mut client, mut server) = pair().await;

    within(client.send(Message::Ping("are you there?".into())))
        .await
        .unwrap();
    // The server's stream shows the ping; answering it happens as it is read.
    let got = within(server.recv()).await.unwrap().unwrap();
    assert_eq!(got, Message::Ping("are you there?".into()));
    let got = within(client.recv()).await.unwrap().unwrap();
    assert_eq!(got, Message::Pong("are you there?".into()));

    // And the other way round.
    within(server.send(Message::Ping(vec![1u8, 2, 3].into())))
        .await
        .unwrap();
    let got = within(client.recv()).await.unwrap().unwrap();
    assert_eq!(got, Message::Ping(vec![1u8, 2, 3].into()));
    let got = within(server.recv()).await.unwrap().unwrap();
    assert_eq!(got, Message::Pong(vec![1u8, 2, 3].into()));
}

#[tokio::test]
async fn without_auto_pong_no_pong_is_sent() {
    let acceptor = Acceptor::new().config(Config::default().auto_pong(false));
    let (mut client, mut server) = pair_with(Config::default(), acceptor).await;

    within(client.send(Message::Ping("p1".into())))
        .await
        .unwrap();
    within(client.send(Message::text("after the ping")))
        .await
        .unwrap();
    let got = within(server.recv()).await.unwrap().unwrap();
    assert_eq!(got, Message::Ping("p1".into()));
    let got = within(server.recv()).await.unwrap().unwrap();
    assert_eq!(got, Message::text("after the ping"));

    // Had the server answered, the pong would arrive before this message.
    within(server.send(Message::text("no pong before me")))
        .await
        .unwrap();
    let got = within(client.recv()).await.unwrap().unwrap();
    assert_eq!(got, Message::text("no pong before me"));

    // The application may answer by hand.
    within(server.send(Message::Pong("p1".into())))
        .await
        .unwrap();
    let got = within(client.recv()).await.unwrap().unwrap();
    assert_eq!(got, Message::Pong("p1".into()));
}

#[tokio::test]
async fn ten_thousand_pipelined_messages_arrive_in_order() {
    const N: usize = 10_000;
    let (mut client, mut server) = pair().await;
    let expected: Vec<Message> = (0..N)
        .map(|i| Message::text(format!("message {i}")))
        .collect();

    // Client to server: queue them all with `feed`, flush once.
    let send = async {
        for msg in &expected {
            client.feed(msg.clone()).await?;
        }
        client.flush().await
    };
    let receive = async {
        let mut got = Vec::with_capacity(N);
        while got.len() < N {
            got.push(server.recv().await.expect("server stream ended").unwrap());
        }
        got
    };
    let (sent, got) = within(async { tokio::join!(send, receive) }).await;
    sent.unwrap();
    assert_eq!(got.len(), N);
    for (i, (got, expected)) in got.iter().zip(&expected).enumerate() {
        assert_eq!(got, expected, "message {i} out of order");
    }

    // Server to client, through the Sink interface.
    let send = send_all(&mut server, got);
    let receive = async {
        let mut got = Vec::with_capacity(N);
        while got.len() < N {
            got.push(client.next().await.expect("client stream ended").unwrap());
        }
        got
    };
    let (sent, got) = within(async { tokio::join!(send, receive) }).await;
    sent.unwrap();
    assert_eq!(got, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_halves_send_and_receive_from_two_tasks() {
    const N: usize = 1000;
    let (url, echo_task) = echo_server(Acceptor::new()).await;
    let (ws, _) = within(duplex::connect(&url)).await.unwrap();
    let (mut reader, mut writer) = ws.split();
    assert!(reader.is_pair_of(&writer));

    // The reader is parked on the socket while the writer sends: a wake-up
    // lost between the halves would hang one of the tasks.
    let receiver = tokio::spawn(async move {
        for i in 0..N {
            match reader.next().await {
                Some(Ok(Message::Text(text))) => assert_eq!(text.as_str(), format!("echo {i}")),
                other => panic!("message {i}: got {other:?}"),
            }
        }
        reader
    });
    let sender = tokio::spawn(async move {
        for i in 0..N {
            writer.send(Message::text(format!("echo {i}"))).await?;
        }
        Ok::<_, duplex::Error>(writer)
    });
    let mut writer = within(sender).await.unwrap().unwrap();
    let mut reader = within(receiver).await.unwrap();

    // Close through the writer, see the closing handshake through the reader.
    within(SinkExt::close(&mut writer)).await.unwrap();
    let got = within(reader.next())
        .await
        .expect("reader ended early")
        .unwrap();
    assert_eq!(got, Message::Close(Some(CloseFrame::new(1000, ""))));
    assert!(within(reader.next()).await.is_none());
    assert_eq!(
        reader.close_status(),
        Some(CloseStatus::Clean(Some(CloseFrame::new(1000, ""))))
    );

    let log = within(echo_task).await.unwrap();
    assert_eq!(log.echoed, N);
    assert_eq!(
        log.control,
        [Message::Close(Some(CloseFrame::new(1000, "")))]
    );
    assert!(log.errors.is_empty(), "{:?}", log.errors);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_halves_move_large_messages_both_ways_at_once() {
    // Each message is far beyond the socket buffers and the write high-water
    // mark: the writer waits on a full socket while the reader drains echoes.
    const N: usize = 16;
    let (url, echo_task) = echo_server(Acceptor::new()).await;
    let (ws, _) = within(duplex::connect(&url)).await.unwrap();
    let (mut reader, mut writer) = ws.split();
    let sender = tokio::spawn(async move {
        for i in 0..N {
            writer
                .send(Message::binary(pattern(1 << 20, i as u32)))
                .await?;
        }
        Ok::<_, duplex::Error>(writer)
    });
    let receiver = tokio::spawn(async move {
        for i in 0..N {
            let got = reader.next().await.expect("reader ended early").unwrap();
            assert_messages_eq(&got, &Message::binary(pattern(1 << 20, i as u32)));
        }
        reader
    });
    let mut writer = within(sender).await.unwrap().unwrap();
    let mut reader = within(receiver).await.unwrap();
    within(SinkExt::close(&mut writer)).await.unwrap();
    while within(reader.next()).await.is_some() {}
    assert_eq!(within(echo_task).await.unwrap().echoed, N);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_reader_answers_pings_while_the_writer_is_idle() {
    let (mut client, server) = pair().await;
    let (mut reader, _writer) = server.split();
    let reading = tokio::spawn(async move {
        let got = reader.next().await.expect("reader ended").unwrap();
        (got, reader)
    });
    within(client.send(Message::Ping("split".into())))
        .await
        .unwrap();
    let got = within(client.recv()).await.unwrap().unwrap();
    assert_eq!(got, Message::Pong("split".into()));
    let (got, _reader) = within(reading).await.unwrap();
    assert_eq!(got, Message::Ping("split".into()));
}
