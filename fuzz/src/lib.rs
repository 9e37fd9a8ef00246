//! Code shared by the fuzz targets in `fuzz_targets/` (see README.md).
//!
//! The frame targets all go through [`run_connection`]: the input is split
//! into an options byte, chunk lengths and the wire bytes, fed to a
//! [`Connection`] in pieces, and everything the connection sends back is
//! decoded by a peer [`Connection`] of the other role, which must accept it.

use std::collections::VecDeque;

use duplex_proto::deflate::{DeflateConfig, DeflateParams};
use duplex_proto::{
    CloseCode, CloseFrame, CloseStatus, Config, Connection, Error, Message, Role, MAX_CLOSE_REASON,
    MAX_CONTROL_PAYLOAD,
};

// ----- input layout -----------------------------------------------------------

/// Drain (and check) the outgoing buffer after every chunk; otherwise only at
/// the end, so pongs and echoes pile up against the high-water mark.
pub const OPT_DRAIN_EACH: u8 = 0x01;
/// Turn automatic pongs off (the harness then answers pings itself).
pub const OPT_NO_AUTO_PONG: u8 = 0x02;
/// Small limits: frames of at most 256 bytes, messages of at most 1 KiB.
pub const OPT_SMALL_LIMITS: u8 = 0x04;
/// Send echoes in frames of at most 7 bytes (fragmented messages).
pub const OPT_FRAGMENT_SENDS: u8 = 0x08;
/// Do not send anything back (no greeting, no echoes).
pub const OPT_NO_ECHO: u8 = 0x10;
/// Start the closing handshake before any byte arrives.
pub const OPT_CLOSE_FIRST: u8 = 0x20;
/// Report the end of the transport after the last chunk.
pub const OPT_EOF: u8 = 0x40;
/// A tiny write buffer: high-water mark 64 bytes, at most 256 bytes.
pub const OPT_TINY_WRITE_BUFFER: u8 = 0x80;

/// In the count byte: append received bytes through `read_buffer()` instead
/// of `recv`.
pub const IO_READ_BUFFER: u8 = 0x10;
/// In the count byte: drain through `transmit_slices` and partial
/// `advance_transmit` calls (vectored writes) instead of `poll_transmit`.
pub const IO_VECTORED: u8 = 0x20;

/// In the count byte: after each piece, once its messages are polled, let
/// the connection release its idle buffers (as a driver does when a read
/// would block).
pub const IO_RELEASE_IDLE: u8 = 0x40;

/// A frame-target input: the options byte, the I/O flags of the count byte
/// and the wire bytes in pieces.
pub struct FrameInput<'a> {
    /// `OPT_*` bits.
    pub opts: u8,
    /// `IO_*` bits.
    pub io: u8,
    /// The wire bytes, in the pieces to feed.
    pub chunks: Vec<&'a [u8]>,
}

/// Splits a frame-target input.
///
/// Layout: `[options] [n] [len_1 .. len_k] wire...` where `k = n % 16` (the
/// `IO_*` bits of `n` choose the I/O calls); the wire bytes are cut into
/// pieces of `len_1`, …, `len_k` bytes (0 gives an empty read) and the
/// rest. A seed is therefore `00 00` followed by the raw frames: default
/// options, one piece.
pub fn split_input(data: &[u8]) -> FrameInput<'_> {
    let opts = data.first().copied().unwrap_or(0);
    let n = data.get(1).map_or(0, |b| usize::from(b % 16));
    let lens_start = data.len().min(2);
    let lens_end = data.len().min(2 + n);
    let mut wire = &data[lens_end..];
    let mut chunks = Vec::with_capacity(n + 1);
    for &len in &data[lens_start..lens_end] {
        let (piece, rest) = wire.split_at(usize::from(len).min(wire.len()));
        chunks.push(piece);
        wire = rest;
    }
    chunks.push(wire);
    FrameInput {
        opts,
        io: data.get(1).map_or(0, |b| b & (IO_READ_BUFFER | IO_VECTORED | IO_RELEASE_IDLE)),
        chunks,
    }
}

/// The permessage-deflate parameters and configuration chosen by a selector
/// byte (the first byte of the deflate frame targets' input):
///
/// - bits 0–1: `server_max_window_bits` 15, 9, 8, 12;
/// - bits 2–3: `client_max_window_bits` 15, 9, 8, 12;
/// - bit 4: `server_no_context_takeover`; bit 5: `client_no_context_takeover`;
/// - bit 6: compress every message we send (`min_compress_size` 0), else the
///   default threshold;
/// - bit 7: `max_message_size` 64 KiB, else 1000 bytes (inflate limit).
pub fn deflate_choice(selector: u8) -> (DeflateParams, DeflateConfig, usize) {
    const BITS: [u8; 4] = [15, 9, 8, 12];
    let params = DeflateParams {
        server_max_window_bits: BITS[usize::from(selector & 3)],
        client_max_window_bits: BITS[usize::from((selector >> 2) & 3)],
        server_no_context_takeover: selector & 0x10 != 0,
        client_no_context_takeover: selector & 0x20 != 0,
    };
    let config = DeflateConfig::default().with_min_compress_size(if selector & 0x40 != 0 {
        0
    } else {
        DeflateConfig::DEFAULT_MIN_COMPRESS_SIZE
    });
    let max_message = if selector & 0x80 != 0 { 64 << 10 } else { 1000 };
    (params, config, max_message)
}

fn other(role: Role) -> Role {
    match role {
        Role::Client => Role::Server,
        Role::Server => Role::Client,
    }
}

// ----- the connection driver ----------------------------------------------------

/// What the connection under test received: each message, then the error
/// that failed it, if any.
type Received = Vec<Result<Message, Error>>;

struct Harness {
    conn: Connection,
    /// Decodes everything `conn` sends; must never fail.
    peer: Connection,
    opts: u8,
    io: u8,
    /// Data messages sent and not yet seen by the peer, in order.
    in_flight: VecDeque<Message>,
    received: Received,
    /// The close frame the peer got from us, if any.
    peer_close: Option<Option<CloseFrame>>,
    /// Bound on `conn.buffered_amount()`.
    max_buffered: usize,
}

/// Runs one frame-target input against a connection of `role`, with
/// permessage-deflate when `deflate` is given. `max_message` caps
/// `max_message_size` (and `max_frame_size`).
pub fn run_connection(
    role: Role,
    deflate: Option<(DeflateParams, DeflateConfig)>,
    max_message: usize,
    data: &[u8],
) {
    let FrameInput { opts, io, chunks } = split_input(data);
    let mut config = Config::default()
        .max_message_size(max_message)
        .max_frame_size(max_message)
        .max_write_buffer(64 << 10)
        .write_buffer_high_water(16 << 10)
        .auto_pong(opts & OPT_NO_AUTO_PONG == 0)
        .deflate(deflate.as_ref().map(|d| d.1.clone()));
    if opts & OPT_SMALL_LIMITS != 0 {
        let (frame, message) = (config.max_frame_size.min(256), config.max_message_size.min(1024));
        config = config.max_frame_size(frame).max_message_size(message);
    }
    if opts & OPT_FRAGMENT_SENDS != 0 {
        config = config.max_send_frame_size(7);
    }
    if opts & OPT_TINY_WRITE_BUFFER != 0 {
        config = config.write_buffer_high_water(64).max_write_buffer(256);
    }
    let params = deflate.as_ref().map(|d| d.0);

    // What we may have queued at most: past the larger of the two buffer
    // limits, one more echo (its frames and the deflate overhead, fragmented
    // at worst into 7-byte pieces with 6-byte headers), one pong or ping and
    // one close frame.
    let largest_message = config.max_message_size + config.max_message_size / 8 + 64;
    let max_buffered = config.max_write_buffer.max(config.write_buffer_high_water)
        + 2 * largest_message
        + 4 * (MAX_CONTROL_PAYLOAD + 14);

    // The peer gets everything we send: give it room for all of it.
    let peer_config = Config::default()
        .max_message_size(2 * largest_message)
        .max_frame_size(2 * largest_message)
        .auto_pong(false)
        .deflate(deflate.as_ref().map(|d| d.1.clone()));

    let mut h = Harness {
        conn: Connection::new(role, config.clone(), params),
        peer: Connection::new(other(role), peer_config, params),
        opts,
        io,
        in_flight: VecDeque::new(),
        received: Vec::new(),
        peer_close: None,
        max_buffered,
    };
    assert_eq!(h.conn.is_compressed(), params.is_some());
    assert_eq!(h.conn.deflate_params(), params);

    if opts & OPT_NO_ECHO == 0 {
        h.send(Message::text("hello from the fuzzer"));
        h.send(Message::Ping(bytes::Bytes::from_static(b"are you there?")));
    }
    if opts & OPT_CLOSE_FIRST != 0 {
        h.conn.close(CloseCode::NORMAL, "fuzz: closing first").expect("close on an open connection");
        assert!(h.conn.is_close_sent());
        assert!(matches!(h.conn.send(Message::text("late")), Err(Error::Closed)));
    }

    let last = chunks.len() - 1;
    for (i, chunk) in chunks.iter().enumerate() {
        if io & IO_READ_BUFFER != 0 {
            if !h.conn.is_read_closed() {
                h.conn.read_buffer().extend_from_slice(chunk);
            }
        } else {
            h.conn.recv(chunk);
        }
        if i == last && opts & OPT_EOF != 0 {
            h.conn.recv_eof();
        }
        h.poll();
        if opts & OPT_DRAIN_EACH != 0 {
            h.drain();
        }
        if io & IO_RELEASE_IDLE != 0 {
            h.conn.release_idle_buffers();
        }
    }
    h.drain();
    assert!(
        h.in_flight.is_empty(),
        "the peer did not receive these messages we sent: {:?}",
        h.in_flight
    );
    if h.conn.is_closed() {
        assert!(h.conn.close_status().is_some());
        assert!(h.conn.is_read_closed());
    }

    // A close or an error ends what is received; the close status and the
    // close frame the peer got follow from it.
    let ends = |r: &Result<Message, Error>| matches!(r, Ok(Message::Close(_)) | Err(_));
    if let Some(i) = h.received.iter().position(ends) {
        assert_eq!(i, h.received.len() - 1, "something was received after a close or error");
    }
    let closed_first = (opts & OPT_CLOSE_FIRST != 0)
        .then(|| Some(CloseFrame::new(CloseCode::NORMAL, "fuzz: closing first")));
    let (status, peer_close) = match h.received.last() {
        Some(Ok(Message::Close(frame))) => (
            Some(CloseStatus::Clean(frame.clone())),
            // Our reply echoes the code, without the reason.
            closed_first.or(Some(frame.as_ref().map(|f| CloseFrame::new(f.code, "")))),
        ),
        Some(Err(Error::AbnormalClosure)) => (Some(CloseStatus::Abnormal), closed_first),
        Some(Err(e)) => (
            Some(CloseStatus::Failed(e.clone())),
            closed_first.or(e.close_frame().map(Some)),
        ),
        _ => (None, closed_first),
    };
    assert_eq!(h.conn.close_status(), status);
    assert_eq!(h.peer_close, peer_close, "the peer got the wrong close frame");

    // Receiving must not depend on how the bytes were cut into pieces, on
    // draining, nor on what we sent: feed the same bytes at once to a fresh
    // connection that sends nothing.
    let mut reference = Connection::new(role, config, params);
    for chunk in &chunks {
        reference.recv(chunk);
    }
    if opts & OPT_EOF != 0 {
        reference.recv_eof();
    }
    let mut expected = Vec::new();
    loop {
        match reference.poll_message() {
            Ok(Some(message)) => expected.push(Ok(message)),
            Ok(None) => break,
            Err(e) => {
                expected.push(Err(e));
                break;
            }
        }
    }
    // (Closing first changes what is sent, never what is received.)
    assert_eq!(h.received, expected, "receiving depends on how the input was split");
}

impl Harness {
    fn echo(&self) -> bool {
        self.opts & OPT_NO_ECHO == 0
    }

    /// Polls until `Ok(None)` or an error, checking each message.
    fn poll(&mut self) {
        loop {
            match self.conn.poll_message() {
                Ok(Some(message)) => {
                    self.received.push(Ok(message.clone()));
                    self.on_message(message);
                }
                Ok(None) => break,
                Err(e) => {
                    self.received.push(Err(e.clone()));
                    assert!(!matches!(e, Error::InvalidInput(_) | Error::WriteBufferFull | Error::Closed), "{e:?}");
                    assert!(self.conn.is_read_closed());
                    assert!(self.conn.is_close_sent());
                    assert!(self.conn.is_closed());
                    assert!(self.conn.should_close_transport());
                    assert!(self.conn.close_status().is_some());
                    assert!(matches!(self.conn.poll_message(), Ok(None)));
                    assert!(matches!(self.conn.send(Message::text("after failure")), Err(Error::Closed)));
                    break;
                }
            }
            self.check_buffered();
        }
        self.check_buffered();
    }

    fn on_message(&mut self, message: Message) {
        let limit = self.conn.config().max_message_size;
        match message {
            Message::Text(text) => {
                assert!(std::str::from_utf8(text.as_bytes()).is_ok(), "text message is not UTF-8");
                assert!(text.len() <= limit, "text message of {} bytes > limit {limit}", text.len());
                if self.echo() {
                    self.send(Message::Text(text));
                }
            }
            Message::Binary(bytes) => {
                assert!(bytes.len() <= limit, "binary message of {} bytes > limit {limit}", bytes.len());
                if self.echo() {
                    self.send(Message::Binary(bytes));
                }
            }
            Message::Ping(payload) => {
                assert!(payload.len() <= MAX_CONTROL_PAYLOAD);
                if self.echo() && !self.conn.config().auto_pong {
                    self.send(Message::Pong(payload));
                }
            }
            Message::Pong(payload) => assert!(payload.len() <= MAX_CONTROL_PAYLOAD),
            Message::Close(frame) => {
                if let Some(frame) = &frame {
                    assert!(frame.code.is_sendable(), "received close code {}", frame.code);
                    assert!(frame.reason.len() <= MAX_CLOSE_REASON);
                    assert!(std::str::from_utf8(frame.reason.as_bytes()).is_ok());
                }
                assert!(self.conn.is_read_closed());
                assert!(self.conn.is_close_sent(), "a received close must be answered");
                assert!(matches!(self.conn.poll_message(), Ok(None)));
                assert!(matches!(self.conn.send(Message::text("after close")), Err(Error::Closed)));
            }
        }
    }

    fn send(&mut self, message: Message) {
        let is_data = message.is_data();
        match self.conn.send(message.clone()) {
            Ok(()) => {
                if is_data {
                    self.in_flight.push_back(message);
                }
            }
            Err(Error::Closed) => assert!(self.conn.is_close_sent()),
            Err(Error::WriteBufferFull) => {
                assert!(self.conn.buffered_amount() > self.conn.config().max_write_buffer)
            }
            Err(e) => panic!("send of a valid message failed: {e:?}"),
        }
        self.check_buffered();
    }

    fn check_buffered(&self) {
        let buffered = self.conn.buffered_amount();
        assert!(
            buffered <= self.max_buffered,
            "buffered_amount {buffered} > bound {}",
            self.max_buffered
        );
        assert_eq!(self.conn.has_transmit(), buffered > 0);
        assert_eq!(self.conn.wants_flush(), buffered >= self.conn.config().write_buffer_high_water);
    }

    /// Takes all queued output, checks its length against
    /// `buffered_amount`, and has the peer decode it.
    fn drain(&mut self) {
        let before = self.conn.buffered_amount();
        let mut total = 0;
        if self.io & IO_VECTORED != 0 {
            // Short writes of varying sizes, as a socket may accept.
            const WRITES: [usize; 5] = [1, 3, 7, 64, 1000];
            let mut written = Vec::new();
            for round in 0.. {
                let mut slots = [std::io::IoSlice::new(&[]); 3];
                let n = self.conn.transmit_slices(&mut slots);
                if n == 0 {
                    break;
                }
                let mut budget = WRITES[round % WRITES.len()];
                let start = written.len();
                for slot in &slots[..n] {
                    assert!(!slot.is_empty(), "transmit_slices gave an empty slice");
                    let take = slot.len().min(budget);
                    written.extend_from_slice(&slot[..take]);
                    budget -= take;
                    if budget == 0 {
                        break;
                    }
                }
                let wrote = written.len() - start;
                let left = self.conn.buffered_amount();
                self.conn.advance_transmit(wrote);
                assert_eq!(self.conn.buffered_amount(), left - wrote);
            }
            total = written.len();
            self.peer.recv(&written);
        } else {
            while let Some(chunk) = self.conn.poll_transmit() {
                assert!(!chunk.is_empty(), "poll_transmit returned an empty chunk");
                total += chunk.len();
                self.peer.recv(&chunk);
            }
        }
        assert_eq!(total, before, "the output was not the buffered_amount");
        assert_eq!(self.conn.buffered_amount(), 0);
        assert!(!self.conn.has_transmit());
        loop {
            match self.peer.poll_message() {
                Ok(Some(message)) => match message {
                    Message::Text(_) | Message::Binary(_) => {
                        let sent = self
                            .in_flight
                            .pop_front()
                            .unwrap_or_else(|| panic!("peer received a message we did not send: {message:?}"));
                        assert_eq!(message, sent, "peer received something else than we sent");
                    }
                    Message::Ping(p) | Message::Pong(p) => assert!(p.len() <= MAX_CONTROL_PAYLOAD),
                    Message::Close(frame) => {
                        if let Some(frame) = &frame {
                            assert!(frame.code.is_sendable());
                            assert!(frame.reason.len() <= MAX_CLOSE_REASON);
                        }
                        assert!(self.peer_close.is_none(), "we sent two close frames");
                        self.peer_close = Some(frame);
                    }
                },
                Ok(None) => break,
                Err(e) => panic!("the peer cannot decode what we sent: {e:?}"),
            }
        }
        // The peer's own output (its close reply) is of no interest.
        while self.peer.poll_transmit().is_some() {}
    }
}

// ----- handshake and negotiation helpers ------------------------------------------

use duplex_proto::deflate::{MAX_WINDOW_BITS, MIN_WINDOW_BITS};
use duplex_proto::handshake::{parse_response, HandshakeError, Limits};

/// Checks a server's refusal: a known status, and an HTTP response our own
/// parser reads back with that status and the error text as its body.
pub fn check_refusal(error: &HandshakeError) {
    let status = error.http_status();
    assert!(matches!(status, 400 | 405 | 426 | 431), "status {status} for {error:?}");
    let bytes = error.to_response();
    let (response, len) = parse_response(&bytes, &Limits::default())
        .expect("our refusal must parse")
        .expect("our refusal is complete");
    assert_eq!(response.status, status);
    assert_eq!(&bytes[len..], format!("{error}\n").as_bytes());
}

fn clamp_bits(bits: u8) -> u8 {
    bits.clamp(MIN_WINDOW_BITS, MAX_WINDOW_BITS)
}

fn check_bits(params: &DeflateParams) {
    assert!((8..=15).contains(&params.server_max_window_bits), "{params:?}");
    assert!((8..=15).contains(&params.client_max_window_bits), "{params:?}");
}

/// Checks what a server with `config` settled on, and that the answer is a
/// valid response header that a client accepts.
pub fn check_server_params(config: &DeflateConfig, params: &DeflateParams, answer: &str) {
    check_bits(params);
    assert!(params.server_max_window_bits <= clamp_bits(config.server_max_window_bits), "{params:?}");
    assert!(params.client_max_window_bits <= MAX_WINDOW_BITS);
    if config.server_no_context_takeover {
        assert!(params.server_no_context_takeover);
    }
    if config.client_no_context_takeover {
        assert!(params.client_no_context_takeover);
    }
    assert!(answer.starts_with("permessage-deflate"), "{answer:?}");
    assert!(!answer.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0), "{answer:?}");
    // A client that made the plainest offer accepts any answer we give.
    let accepted = DeflateConfig::default()
        .accept_client(&[answer])
        .unwrap_or_else(|e| panic!("client refuses our answer {answer:?}: {e}"));
    assert!(accepted.is_some());
}

/// Checks what a client with `config` accepted.
pub fn check_client_params(config: &DeflateConfig, params: &DeflateParams) {
    check_bits(params);
    assert!(params.server_max_window_bits <= clamp_bits(config.server_max_window_bits), "{params:?}");
    assert!(params.client_max_window_bits <= clamp_bits(config.client_max_window_bits), "{params:?}");
    if config.server_no_context_takeover {
        assert!(params.server_no_context_takeover, "{params:?}");
    }
    if config.client_no_context_takeover {
        assert!(params.client_no_context_takeover, "{params:?}");
    }
}

/// Moves everything `from` queued to `to` and returns what `to` received.
fn transfer(from: &mut Connection, to: &mut Connection) -> Vec<Message> {
    while let Some(chunk) = from.poll_transmit() {
        to.recv(&chunk);
    }
    let mut got = Vec::new();
    while let Some(message) = to.poll_message().expect("a message of our own must decode") {
        got.push(message);
    }
    got
}

/// A client and a server using `params` (compressing every message) exchange
/// a few messages both ways; each must arrive intact.
pub fn round_trip(params: Option<DeflateParams>) {
    let config = Config::default()
        .max_message_size(1 << 16)
        .deflate(Some(DeflateConfig::default().with_min_compress_size(0)));
    let mut client = Connection::new(Role::Client, config.clone(), params);
    let mut server = Connection::new(Role::Server, config, params);
    let messages = [
        Message::text("Hello"),
        Message::text("Hello"),
        Message::binary(b"abcdefgh".repeat(100)),
        Message::text(""),
        Message::binary((0..=255u8).cycle().take(1000).collect::<Vec<u8>>()),
    ];
    for client_sends in [true, false] {
        let (from, to) = if client_sends {
            (&mut client, &mut server)
        } else {
            (&mut server, &mut client)
        };
        for message in &messages {
            from.send(message.clone()).expect("send");
        }
        assert_eq!(transfer(from, to), messages);
    }
    assert_eq!(client.stats().compressed_out > 0, params.is_some());
}
