//! In-memory client↔server scenarios, named after the RFC 6455 sections they check.

use bytes::{Bytes, BytesMut};
use duplex_proto::{
    CloseCode, CloseFrame, CloseStatus, Config, Connection, Error, FrameHeader, Message, OpCode,
    ProtocolError, Role,
};
use proptest::prelude::*;

fn pair() -> (Connection, Connection) {
    (
        Connection::new(Role::Client, Config::default(), None),
        Connection::new(Role::Server, Config::default(), None),
    )
}

/// Moves every queued byte from `from` to `to`.
fn pump(from: &mut Connection, to: &mut Connection) {
    while let Some(bytes) = from.poll_transmit() {
        to.recv(&bytes);
    }
}

fn drain(conn: &mut Connection) -> Vec<Result<Message, Error>> {
    let mut out = Vec::new();
    loop {
        match conn.poll_message() {
            Ok(Some(m)) => out.push(Ok(m)),
            Ok(None) => return out,
            Err(e) => {
                out.push(Err(e));
                return out;
            }
        }
    }
}

/// Encodes a raw frame as a client (masked) or server would.
fn frame(fin: bool, rsv: u8, opcode: u8, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    let mut out = vec![(if fin { 0x80 } else { 0 }) | (rsv << 4) | opcode];
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    match payload.len() {
        n if n < 126 => out.push(mask_bit | n as u8),
        n if n < 65536 => {
            out.push(mask_bit | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(mask_bit | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    let mut body = payload.to_vec();
    if let Some(key) = mask {
        out.extend_from_slice(&key);
        duplex_proto::apply_mask(&mut body, key, 0);
    }
    out.extend_from_slice(&body);
    out
}

const KEY: Option<[u8; 4]> = Some([1, 2, 3, 4]);

/// Feeds raw client frames to a server and returns what it yields and sends back.
fn server_gets(bytes: &[u8]) -> (Vec<Result<Message, Error>>, Vec<u8>) {
    let mut server = Connection::new(Role::Server, Config::default(), None);
    server.recv(bytes);
    let events = drain(&mut server);
    let mut sent = Vec::new();
    while let Some(b) = server.poll_transmit() {
        sent.extend_from_slice(&b);
    }
    (events, sent)
}

fn close_code_of(sent: &[u8]) -> Option<u16> {
    let (h, n) = FrameHeader::parse(sent).ok()??;
    (h.opcode == OpCode::Close && h.payload_len >= 2)
        .then(|| u16::from_be_bytes([sent[n], sent[n + 1]]))
}

#[test]
fn s5_7_masked_hello_from_the_rfc() {
    let bytes = [
        0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];
    let (events, _) = server_gets(&bytes);
    assert_eq!(events, vec![Ok(Message::text("Hello"))]);
}

#[test]
fn s5_7_fragmented_hello_from_the_rfc() {
    let mut client = Connection::new(Role::Client, Config::default(), None);
    client.recv(&[0x01, 0x03, 0x48, 0x65, 0x6c]);
    assert_eq!(client.poll_message(), Ok(None));
    client.recv(&[0x80, 0x02, 0x6c, 0x6f]);
    assert_eq!(client.poll_message(), Ok(Some(Message::text("Hello"))));
}

#[test]
fn s5_7_unmasked_ping_is_answered_with_a_pong() {
    let mut client = Connection::new(Role::Client, Config::default(), None);
    client.recv(&[0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
    assert_eq!(
        client.poll_message(),
        Ok(Some(Message::Ping(Bytes::from_static(b"Hello"))))
    );
    let pong = client.poll_transmit().unwrap();
    let (h, n) = FrameHeader::parse(&pong).unwrap().unwrap();
    assert_eq!(h.opcode, OpCode::Pong);
    let mut body = pong[n..].to_vec();
    duplex_proto::apply_mask(&mut body, h.mask.unwrap(), 0);
    assert_eq!(body, b"Hello");
}

#[test]
fn auto_pong_can_be_turned_off() {
    let mut server = Connection::new(Role::Server, Config::default().auto_pong(false), None);
    server.recv(&frame(true, 0, 0x9, b"x", KEY));
    assert_eq!(
        server.poll_message(),
        Ok(Some(Message::Ping(Bytes::from_static(b"x"))))
    );
    assert!(server.poll_transmit().is_none());
}

#[test]
fn s5_1_server_fails_on_unmasked_frame() {
    let (events, sent) = server_gets(&frame(true, 0, 1, b"hi", None));
    assert_eq!(events, vec![Err(ProtocolError::UnmaskedFrame.into())]);
    assert_eq!(close_code_of(&sent), Some(1002));
}

#[test]
fn s5_1_client_fails_on_masked_frame() {
    let mut client = Connection::new(Role::Client, Config::default(), None);
    client.recv(&frame(true, 0, 1, b"hi", KEY));
    assert_eq!(
        client.poll_message(),
        Err(ProtocolError::MaskedFrame.into())
    );
    assert!(client.should_close_transport());
}

#[test]
fn s5_2_reserved_bits_and_opcodes_fail_with_1002() {
    for bytes in [
        frame(true, 4, 1, b"a", KEY),
        frame(true, 2, 1, b"a", KEY),
        frame(true, 1, 1, b"a", KEY),
        frame(true, 0, 3, b"", KEY),
        frame(true, 0, 0xB, b"", KEY),
    ] {
        let (events, sent) = server_gets(&bytes);
        assert!(
            matches!(events.last(), Some(Err(Error::Protocol(_)))),
            "{events:?}"
        );
        assert_eq!(close_code_of(&sent), Some(1002));
    }
}

#[test]
fn s5_2_huge_64_bit_length_fails() {
    let bytes = [0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4];
    let (events, sent) = server_gets(&bytes);
    assert_eq!(events, vec![Err(ProtocolError::InvalidLength.into())]);
    assert_eq!(close_code_of(&sent), Some(1002));
}

#[test]
fn s5_4_control_frames_interleave_with_fragments() {
    let mut bytes = frame(false, 0, 1, b"frag", KEY);
    bytes.extend(frame(true, 0, 9, b"p", KEY));
    bytes.extend(frame(false, 0, 0, b"men", KEY));
    bytes.extend(frame(true, 0, 0, b"ted", KEY));
    let (events, _) = server_gets(&bytes);
    assert_eq!(
        events,
        vec![
            Ok(Message::Ping(Bytes::from_static(b"p"))),
            Ok(Message::text("fragmented"))
        ]
    );
}

#[test]
fn s5_4_continuation_without_start_and_start_mid_message_fail() {
    let (events, _) = server_gets(&frame(true, 0, 0, b"x", KEY));
    assert_eq!(
        events,
        vec![Err(ProtocolError::UnexpectedContinuation.into())]
    );
    let mut bytes = frame(false, 0, 1, b"x", KEY);
    bytes.extend(frame(true, 0, 2, b"y", KEY));
    let (events, _) = server_gets(&bytes);
    assert_eq!(
        events,
        vec![Err(ProtocolError::ExpectedContinuation.into())]
    );
}

#[test]
fn s5_5_control_frame_rules() {
    let (events, _) = server_gets(&frame(true, 0, 9, &[0; 126], KEY));
    assert_eq!(events, vec![Err(ProtocolError::ControlFrameTooBig.into())]);
    let (events, _) = server_gets(&frame(false, 0, 9, b"", KEY));
    assert_eq!(
        events,
        vec![Err(ProtocolError::FragmentedControlFrame.into())]
    );
}

#[test]
fn s8_1_invalid_utf8_fails_with_1007_before_the_message_ends() {
    // The first fragment already holds an invalid sequence: fail on it alone.
    let mut server = Connection::new(Role::Server, Config::default(), None);
    server.recv(&frame(false, 0, 1, &[b'o', b'k', 0xff], KEY));
    assert_eq!(
        server.poll_message(),
        Err(ProtocolError::InvalidUtf8.into())
    );
    assert_eq!(close_code_of(&server.poll_transmit().unwrap()), Some(1007));
}

#[test]
fn s8_1_invalid_utf8_fails_inside_a_partial_frame() {
    let bytes = frame(
        true,
        0,
        1,
        &[b'a'; 100]
            .iter()
            .copied()
            .chain([0xc0, 0x80])
            .chain([b'b'; 100])
            .collect::<Vec<_>>(),
        KEY,
    );
    let mut server = Connection::new(Role::Server, Config::default(), None);
    server.recv(&bytes[..120]); // the frame is not complete, but the bad bytes are here
    assert_eq!(
        server.poll_message(),
        Err(ProtocolError::InvalidUtf8.into())
    );
}

#[test]
fn s8_1_utf8_split_across_fragments_is_fine() {
    let text = "κόσμε";
    let (a, b) = text.as_bytes().split_at(3);
    let mut bytes = frame(false, 0, 1, a, KEY);
    bytes.extend(frame(true, 0, 0, b, KEY));
    let (events, _) = server_gets(&bytes);
    assert_eq!(events, vec![Ok(Message::text(text))]);
}

#[test]
fn s8_1_message_ending_mid_character_fails() {
    let (events, _) = server_gets(&frame(true, 0, 1, &[0xce], KEY));
    assert_eq!(events, vec![Err(ProtocolError::InvalidUtf8.into())]);
}

#[test]
fn s7_closing_handshake_client_initiated() {
    let (mut client, mut server) = pair();
    client.close(CloseCode::NORMAL, "done").unwrap();
    pump(&mut client, &mut server);
    assert_eq!(
        server.poll_message(),
        Ok(Some(Message::Close(Some(CloseFrame::new(1000, "done")))))
    );
    assert!(server.is_closed() && server.should_close_transport());
    pump(&mut server, &mut client);
    assert_eq!(
        client.poll_message(),
        Ok(Some(Message::Close(Some(CloseFrame::new(1000, "")))))
    );
    assert!(client.is_closed());
    assert!(
        !client.should_close_transport(),
        "the client waits for the server to close TCP"
    );
    assert_eq!(client.close_status().unwrap().code(), CloseCode::NORMAL);
    assert_eq!(client.send(Message::text("late")), Err(Error::Closed));
}

#[test]
fn s7_close_without_code_is_reported_as_1005() {
    let (mut client, mut server) = pair();
    client.send(Message::Close(None)).unwrap();
    pump(&mut client, &mut server);
    assert_eq!(server.poll_message(), Ok(Some(Message::Close(None))));
    assert_eq!(server.close_status(), Some(CloseStatus::Clean(None)));
    assert_eq!(server.close_status().unwrap().code(), CloseCode::NO_STATUS);
}

#[test]
fn s7_4_invalid_close_codes_and_bodies() {
    for code in [0u16, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000] {
        let (events, sent) = server_gets(&frame(true, 0, 8, &code.to_be_bytes(), KEY));
        assert_eq!(
            events,
            vec![Err(ProtocolError::InvalidCloseCode(code).into())]
        );
        assert_eq!(close_code_of(&sent), Some(1002));
    }
    let (events, _) = server_gets(&frame(true, 0, 8, &[3], KEY));
    assert_eq!(events, vec![Err(ProtocolError::InvalidCloseFrame.into())]);
    let (events, sent) = server_gets(&frame(true, 0, 8, &[3, 232, 0xff], KEY));
    assert_eq!(events, vec![Err(ProtocolError::InvalidUtf8.into())]);
    assert_eq!(close_code_of(&sent), Some(1007));
}

#[test]
fn s7_data_after_close_is_ignored() {
    let mut bytes = frame(true, 0, 8, &1000u16.to_be_bytes(), KEY);
    bytes.extend(frame(true, 0, 1, b"ignored", KEY));
    let (events, _) = server_gets(&bytes);
    assert_eq!(events.len(), 1);
}

#[test]
fn eof_without_close_is_abnormal() {
    let mut server = Connection::new(Role::Server, Config::default(), None);
    server.recv(&frame(true, 0, 1, b"hi", KEY)[..3]);
    server.recv_eof();
    assert_eq!(server.poll_message(), Err(Error::AbnormalClosure));
    assert_eq!(server.close_status(), Some(CloseStatus::Abnormal));
    assert!(
        server.poll_transmit().is_none(),
        "no close frame on a dead transport"
    );
}

#[test]
fn limits_fail_with_1009() {
    let config = Config::default().max_message_size(10).max_frame_size(8);
    let mut server = Connection::new(Role::Server, config.clone(), None);
    server.recv(&frame(true, 0, 2, &[0; 9], KEY)[..6]); // header only: refused before the payload
    assert_eq!(
        server.poll_message(),
        Err(Error::MessageTooBig { limit: 8 })
    );
    assert_eq!(close_code_of(&server.poll_transmit().unwrap()), Some(1009));
    let mut server = Connection::new(Role::Server, config, None);
    let mut bytes = frame(false, 0, 2, &[0; 6], KEY);
    bytes.extend(frame(true, 0, 0, &[0; 6], KEY));
    server.recv(&bytes);
    assert_eq!(
        server.poll_message(),
        Err(Error::MessageTooBig { limit: 10 })
    );
}

#[test]
fn api_misuse_is_refused() {
    let (mut client, _) = pair();
    assert!(matches!(
        client.send(Message::Ping(Bytes::from(vec![0; 126]))),
        Err(Error::InvalidInput(_))
    ));
    assert!(matches!(
        client.send(Message::Close(Some(CloseFrame::new(1005, "")))),
        Err(Error::InvalidInput(_))
    ));
    assert!(!client.has_transmit());
}

#[test]
fn large_messages_and_send_fragmentation() {
    let config = Config::default().max_send_frame_size(1000);
    let mut client = Connection::new(Role::Client, config, None);
    let mut server = Connection::new(
        Role::Server,
        Config::default().max_send_frame_size(777),
        None,
    );
    let big: Vec<u8> = (0..100_000u32).map(|i| i as u8).collect();
    client.send(Message::binary(big.clone())).unwrap();
    pump(&mut client, &mut server);
    assert_eq!(
        server.poll_message(),
        Ok(Some(Message::binary(big.clone())))
    );
    server.send(Message::binary(big.clone())).unwrap();
    pump(&mut server, &mut client);
    assert_eq!(client.poll_message(), Ok(Some(Message::binary(big))));
}

#[test]
fn vectored_transmit_matches_poll_transmit() {
    let mut server = Connection::new(Role::Server, Config::default(), None);
    server.send(Message::text("small")).unwrap();
    server.send(Message::binary(vec![7u8; 10_000])).unwrap();
    server.send(Message::text("after")).unwrap();
    let mut slices = [std::io::IoSlice::new(&[]); 8];
    let n = server.transmit_slices(&mut slices);
    let flat: Vec<u8> = slices[..n].iter().flat_map(|s| s.iter().copied()).collect();
    assert_eq!(flat.len(), server.buffered_amount());
    server.advance_transmit(3);
    server.advance_transmit(flat.len() - 3);
    assert!(!server.has_transmit());
    let mut client = Connection::new(Role::Client, Config::default(), None);
    client.recv(&flat);
    assert_eq!(drain(&mut client).len(), 3);
}

#[test]
fn write_buffer_limit_gives_backpressure() {
    let mut server = Connection::new(
        Role::Server,
        Config::default()
            .max_write_buffer(1000)
            .write_buffer_high_water(500),
        None,
    );
    server.send(Message::binary(vec![0u8; 600])).unwrap();
    assert!(server.wants_flush());
    server.send(Message::binary(vec![0u8; 600])).unwrap();
    assert_eq!(
        server.send(Message::binary(vec![0u8; 1])),
        Err(Error::WriteBufferFull)
    );
    while server.poll_transmit().is_some() {}
    assert!(server.send(Message::binary(vec![0u8; 1])).is_ok());
}

proptest! {
    /// Whatever the messages, and however the byte stream is cut into reads,
    /// the receiver gets exactly the messages sent.
    #[test]
    fn round_trip_any_split(messages in proptest::collection::vec(
            prop_oneof![
                "\\PC{0,300}".prop_map(Message::from),
                proptest::collection::vec(any::<u8>(), 0..70_000).prop_map(Message::from),
                proptest::collection::vec(any::<u8>(), 0..125).prop_map(|b| Message::Ping(b.into())),
            ], 1..6),
        frag in prop_oneof![Just(usize::MAX), 1usize..500],
        cuts in proptest::collection::vec(1usize..5000, 1..20),
        client_sends: bool) {
        let (mut client, mut server) = pair();
        let (tx, rx) = if client_sends { (&mut client, &mut server) } else { (&mut server, &mut client) };
        let mut tx_conn = Connection::new(tx.role(), Config::default().max_send_frame_size(frag), None);
        for m in &messages {
            tx_conn.send(m.clone()).unwrap();
        }
        let mut wire = BytesMut::new();
        while let Some(b) = tx_conn.poll_transmit() {
            wire.extend_from_slice(&b);
        }
        let mut got = Vec::new();
        let mut cut = cuts.iter().cycle();
        while !wire.is_empty() {
            let n = (*cut.next().unwrap()).min(wire.len());
            rx.recv(&wire.split_to(n));
            while let Some(m) = rx.poll_message().unwrap() {
                got.push(m);
            }
        }
        prop_assert_eq!(got, messages);
    }

    /// A whole frame in one read takes a shorter path than one arriving in
    /// pieces: both must give the same messages, errors (invalid UTF-8
    /// included), close frame sent back, and counters.
    #[test]
    fn whole_and_piecewise_frames_decode_the_same(
            frames in proptest::collection::vec(
                (prop_oneof![Just(1u8), Just(2u8)],
                 prop_oneof![
                     "\\PC{0,40}".prop_map(String::into_bytes),
                     proptest::collection::vec(any::<u8>(), 0..300),
                 ]),
                1..5)) {
        let mut bytes = Vec::new();
        for (opcode, payload) in &frames {
            bytes.extend(frame(true, 0, *opcode, payload, KEY));
        }
        let (whole, whole_sent) = server_gets(&bytes);
        let mut server = Connection::new(Role::Server, Config::default(), None);
        let mut pieces = Vec::new();
        for byte in &bytes {
            server.recv(std::slice::from_ref(byte));
            pieces.extend(drain(&mut server));
        }
        let mut pieces_sent = Vec::new();
        while let Some(b) = server.poll_transmit() {
            pieces_sent.extend_from_slice(&b);
        }
        prop_assert_eq!(&whole, &pieces);
        prop_assert_eq!(whole_sent, pieces_sent);
        let mut whole_server = Connection::new(Role::Server, Config::default(), None);
        whole_server.recv(&bytes);
        drain(&mut whole_server);
        prop_assert_eq!(whole_server.stats(), server.stats());
    }

    /// Arbitrary bytes never panic the decoder, in either role.
    #[test]
    fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..2000), server: bool) {
        let role = if server { Role::Server } else { Role::Client };
        let mut conn = Connection::new(role, Config::default().max_frame_size(4096), None);
        conn.recv(&bytes);
        for _ in 0..100 {
            match conn.poll_message() {
                Ok(Some(_)) => continue,
                _ => break,
            }
        }
    }
}

#[test]
fn a_ping_flood_does_not_grow_the_output_buffer() {
    let mut server = Connection::new(
        Role::Server,
        Config::default().write_buffer_high_water(1024),
        None,
    );
    let ping = frame(true, 0, 9, &[7; 125], KEY);
    for _ in 0..10_000 {
        server.recv(&ping);
        while let Ok(Some(_)) = server.poll_message() {}
    }
    assert!(
        server.buffered_amount() < 1024 + 200,
        "{}",
        server.buffered_amount()
    );
}

// ----- memory held while idle ------------------------------------------------

/// Receives `size` bytes in one binary message on a server connection.
fn server_receiving(size: usize) -> (Connection, Message) {
    let (mut client, mut server) = pair();
    client
        .send(Message::Binary(vec![7u8; size].into()))
        .unwrap();
    pump(&mut client, &mut server);
    let message = server.poll_message().unwrap().expect("a whole message");
    (server, message)
}

#[test]
fn idle_connection_lets_go_of_a_large_read_buffer() {
    let (mut server, message) = server_receiving(64 * 1024);
    drop(message);
    server.release_idle_buffers();
    assert_eq!(server.read_buffer().capacity(), 0);
    assert_eq!(server.poll_message().unwrap(), None);
}

#[test]
fn idle_connection_keeps_a_small_read_buffer() {
    let (mut server, message) = server_receiving(100);
    drop(message);
    server.release_idle_buffers();
    let kept = server.read_buffer().capacity();
    assert!(
        kept > 0 && kept <= Config::default().idle_buffer_keep,
        "kept {kept}"
    );
}

#[test]
fn a_message_the_application_holds_outlives_the_released_buffer() {
    let (mut server, message) = server_receiving(64 * 1024);
    server.release_idle_buffers();
    assert_eq!(server.read_buffer().capacity(), 0);
    assert_eq!(message, Message::Binary(vec![7u8; 64 * 1024].into()));
    // The connection still works: the next message lands in a new buffer.
    let (mut client, _) = pair();
    client.send(Message::Text("again".into())).unwrap();
    while let Some(bytes) = client.poll_transmit() {
        server.recv(&bytes);
    }
    assert_eq!(
        server.poll_message().unwrap(),
        Some(Message::Text("again".into()))
    );
}

#[test]
fn idle_buffer_keep_zero_frees_even_a_small_buffer() {
    let (mut client, _) = pair();
    let mut server = Connection::new(Role::Server, Config::default().idle_buffer_keep(0), None);
    client.send(Message::Text("hi".into())).unwrap();
    pump(&mut client, &mut server);
    drop(server.poll_message().unwrap().expect("a message"));
    server.release_idle_buffers();
    assert_eq!(server.read_buffer().capacity(), 0);
}

#[test]
fn releasing_keeps_a_partly_received_frame() {
    let (mut client, mut server) = pair();
    client
        .send(Message::Binary(vec![1u8; 10_000].into()))
        .unwrap();
    let bytes: Vec<u8> = std::iter::from_fn(|| client.poll_transmit())
        .flatten()
        .collect();
    server.recv(&bytes[..5_000]);
    assert_eq!(server.poll_message().unwrap(), None);
    server.release_idle_buffers();
    server.recv(&bytes[5_000..]);
    assert_eq!(
        server.poll_message().unwrap(),
        Some(Message::Binary(vec![1u8; 10_000].into()))
    );
}
