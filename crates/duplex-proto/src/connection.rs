//! The connection state machine; see [`Connection`].

use std::collections::VecDeque;
use std::io::IoSlice;

use bytes::{Buf, Bytes, BytesMut};

use crate::close::{CloseCode, CloseFrame, MAX_CLOSE_REASON};
use crate::config::Config;
use crate::deflate::{DeflateError, DeflateParams, PerMessageDeflate};
use crate::error::{Error, ProtocolError};
use crate::frame::{FrameHeader, OpCode, MAX_CONTROL_PAYLOAD};
use crate::mask::apply_mask;
use crate::message::{Message, Utf8Bytes};
use crate::utf8::Utf8Validator;
use crate::Role;

/// Payloads at least this long are queued by reference instead of being
/// copied into the output buffer (servers only: clients must mask).
const ZERO_COPY_MIN: usize = 2048;

/// The WebSocket connection state machine (RFC 6455 §5–§7), without I/O.
///
/// A [`Connection`] is fed the bytes that arrive from the peer and hands back
/// messages; the application's messages go in and the bytes to write come
/// out. It never touches a socket, a clock or a runtime: the driver (the
/// `duplex` crate, a test, a fuzzer) moves bytes and decides about time.
///
/// ```
/// use duplex_proto::{Config, Connection, Message, Role};
/// let mut client = Connection::new(Role::Client, Config::default(), None);
/// let mut server = Connection::new(Role::Server, Config::default(), None);
/// client.send(Message::text("hello")).unwrap();
/// while let Some(chunk) = client.poll_transmit() {
///     server.recv(&chunk);
/// }
/// assert_eq!(server.poll_message().unwrap(), Some(Message::text("hello")));
/// ```
///
/// # Inputs and outputs
/// - in: [`recv`](Connection::recv) (or [`read_buffer`](Connection::read_buffer)
///   to read straight into the connection's buffer), [`recv_eof`](Connection::recv_eof);
/// - out: [`poll_message`](Connection::poll_message) until it gives `Ok(None)`;
/// - in: [`send`](Connection::send) for messages, pings and the close frame;
/// - out: [`poll_transmit`](Connection::poll_transmit) or, to write from
///   the connection's buffers, [`transmit_contiguous`](Connection::transmit_contiguous)
///   (one chunk) or [`transmit_slices`](Connection::transmit_slices) (vectored),
///   then [`advance_transmit`](Connection::advance_transmit);
/// - status: [`wants_flush`](Connection::wants_flush),
///   [`should_close_transport`](Connection::should_close_transport),
///   [`close_status`](Connection::close_status).
///
/// Receiving can queue bytes to send (pongs, the close reply, the close
/// frame that fails the connection), so a driver writes after reading too.
#[derive(Debug)]
pub struct Connection {
    /// Which side we are: decides masking in both directions.
    role: Role,
    /// Limits and behaviour.
    config: Config,
    /// permessage-deflate state, when negotiated. Boxed: it is ~300 bytes
    /// that a connection without compression (or an idle one) should not
    /// carry inline.
    deflate: Option<Box<PerMessageDeflate>>,
    /// Bytes received and not yet consumed. Payloads are unmasked in place.
    read_buf: BytesMut,
    /// The frame whose header has been parsed and whose payload is awaited.
    frame: Option<InFrame>,
    /// The data message in progress, from its first frame header on.
    message: Option<InMessage>,
    /// Validates the text message in progress as its bytes arrive.
    utf8: Utf8Validator,
    /// Whole chunks ready to write, in order, before `staging`.
    out: VecDeque<Bytes>,
    /// Small frames are coalesced here so that many go out in one write.
    staging: BytesMut,
    /// Total bytes in `out` and `staging`.
    buffered: usize,
    /// Whether we have queued a close frame: nothing may be sent after it.
    close_sent: bool,
    /// The peer's close frame, once received: nothing is read after it.
    close_received: Option<Option<CloseFrame>>,
    /// The error that failed the connection, if one did.
    failure: Option<Error>,
    /// Whether the transport reported end of stream.
    eof: bool,
    /// Message counters.
    stats: Stats,
}

/// Counters of one connection's data messages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Text and binary messages received (whole and valid: one that fails
    /// the connection is not counted).
    pub messages_in: u64,
    /// Of those, how many arrived compressed (RSV1).
    pub compressed_in: u64,
    /// Text and binary messages sent.
    pub messages_out: u64,
    /// Of those, how many were sent compressed.
    pub compressed_out: u64,
}

/// A frame whose header is parsed and whose payload is being received.
#[derive(Debug)]
struct InFrame {
    header: FrameHeader,
    /// Payload length as usize (checked against the limits).
    len: usize,
    /// Payload bytes at the front of `read_buf` already unmasked (and
    /// validated, for uncompressed text).
    processed: usize,
}

/// A data message in progress.
#[derive(Debug)]
struct InMessage {
    /// Text or binary.
    opcode: OpCode,
    /// RSV1 was set on its first frame (RFC 7692).
    compressed: bool,
    /// The message so far (after inflating, if compressed). Empty while the
    /// message is a single frame, whose payload is then used without a copy.
    buf: BytesMut,
    /// Whether a frame of this message has already completed.
    continued: bool,
    /// Bytes received so far (before inflating), for the size limit.
    wire_len: usize,
}

/// How the connection ended, from this side's point of view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseStatus {
    /// Both close frames were exchanged; holds the peer's close frame (`None`
    /// for one without a status code, reported as 1005).
    Clean(Option<CloseFrame>),
    /// We failed the connection because of this error, after sending the
    /// matching close frame where there was one.
    Failed(Error),
    /// The transport ended without a closing handshake (1006).
    Abnormal,
}

impl CloseStatus {
    /// The close code to report: the peer's, 1005 for none, 1006 for abnormal
    /// closure, or the code we failed the connection with.
    pub fn code(&self) -> CloseCode {
        match self {
            CloseStatus::Clean(Some(frame)) => frame.code,
            CloseStatus::Clean(None) => CloseCode::NO_STATUS,
            CloseStatus::Failed(e) => e.close_code().unwrap_or(CloseCode::ABNORMAL),
            CloseStatus::Abnormal => CloseCode::ABNORMAL,
        }
    }
}

impl Connection {
    /// A connection in the OPEN state. `deflate` holds the permessage-deflate
    /// parameters the handshake negotiated, if any (they need `config.deflate`).
    pub fn new(role: Role, config: Config, deflate: Option<DeflateParams>) -> Self {
        let deflate = match (deflate, &config.deflate) {
            (Some(params), Some(deflate_config)) => Some(Box::new(PerMessageDeflate::new(
                params,
                role == Role::Server,
                deflate_config,
            ))),
            (Some(params), None) => Some(Box::new(PerMessageDeflate::new(
                params,
                role == Role::Server,
                &Default::default(),
            ))),
            (None, _) => None,
        };
        Connection {
            role,
            config,
            deflate,
            read_buf: BytesMut::new(),
            frame: None,
            message: None,
            utf8: Utf8Validator::new(),
            out: VecDeque::new(),
            staging: BytesMut::new(),
            buffered: 0,
            close_sent: false,
            close_received: None,
            failure: None,
            eof: false,
            stats: Stats::default(),
        }
    }

    /// Our role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The settings in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Whether permessage-deflate is in use.
    pub fn is_compressed(&self) -> bool {
        self.deflate.is_some()
    }

    /// The negotiated permessage-deflate parameters, if any.
    pub fn deflate_params(&self) -> Option<DeflateParams> {
        self.deflate.as_deref().map(PerMessageDeflate::params)
    }

    /// Message counters.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    // ----- input -------------------------------------------------------------

    /// Feeds bytes received from the peer.
    pub fn recv(&mut self, data: &[u8]) {
        if self.is_read_closed() {
            return;
        }
        self.read_buf.extend_from_slice(data);
    }

    /// The buffer that received bytes are appended to, for drivers that read
    /// straight into it (saving a copy). Only append to it.
    pub fn read_buffer(&mut self) -> &mut BytesMut {
        &mut self.read_buf
    }

    /// Frees what an idle connection does not need to hold: the read buffer
    /// when it is empty, and the staging buffer for outgoing frames when
    /// nothing is queued, unless they are small (up to
    /// [`Config::idle_buffer_keep`] bytes, kept so that a connection
    /// exchanging small messages does not allocate for each one).
    ///
    /// A driver calls this when the transport has nothing more to read for
    /// now, i.e. just before it waits. A read buffer still shared with a
    /// message the application holds is let go of too: the message keeps
    /// the memory alive only as long as the application keeps the message.
    pub fn release_idle_buffers(&mut self) {
        let keep_at_most = self.config.idle_buffer_keep;
        if self.read_buf.is_empty() {
            // `try_reclaim` takes the whole allocation back when no message
            // shares it any more (its capacity is then the allocation's), and
            // fails while one does, or when there is no allocation at all.
            let keep = self.read_buf.try_reclaim(1) && self.read_buf.capacity() <= keep_at_most;
            if !keep {
                self.read_buf = BytesMut::new();
            }
        }
        if self.buffered == 0 && self.staging.capacity() > keep_at_most {
            self.staging = BytesMut::new();
        }
    }

    /// How many more bytes the frame being received needs (0 between
    /// frames), so a driver can size its next read.
    pub fn bytes_wanted(&self) -> usize {
        self.frame
            .as_ref()
            .map_or(0, |f| f.len.saturating_sub(self.read_buf.len()))
    }

    /// Records that the peer closed its side of the transport.
    pub fn recv_eof(&mut self) {
        self.eof = true;
    }

    /// Whether no more messages will come: the peer's close frame arrived,
    /// the connection failed, or the transport ended.
    pub fn is_read_closed(&self) -> bool {
        self.close_received.is_some() || self.failure.is_some()
    }

    /// The next message, ping, pong or close frame from the peer.
    ///
    /// `Ok(None)` means more bytes are needed, or nothing more will come (see
    /// [`is_read_closed`](Self::is_read_closed)). An `Err` fails the
    /// connection: the matching close frame is queued for sending and all
    /// later calls return `Ok(None)`.
    pub fn poll_message(&mut self) -> Result<Option<Message>, Error> {
        if self.is_read_closed() {
            return Ok(None);
        }
        match self.decode() {
            Ok(Some(message)) => Ok(Some(message)),
            Ok(None) if self.eof && self.close_received.is_none() => {
                self.fail(Error::AbnormalClosure);
                Err(Error::AbnormalClosure)
            }
            Ok(None) => Ok(None),
            Err(e) => {
                self.fail(e.clone());
                Err(e)
            }
        }
    }

    fn decode(&mut self) -> Result<Option<Message>, Error> {
        loop {
            if self.frame.is_none() {
                let Some((header, header_len)) = FrameHeader::parse(&self.read_buf)? else {
                    return Ok(None);
                };
                let len = self.check_header(&header)?;
                if header.fin
                    && !header.rsv1
                    && self.message.is_none()
                    && self.read_buf.len() - header_len >= len
                    && matches!(header.opcode, OpCode::Text | OpCode::Binary)
                {
                    // The usual small message: one uncompressed frame, all
                    // of it buffered. It needs none of the state that
                    // follows a message across frames and reads.
                    self.read_buf.advance(header_len);
                    let mut payload = self.read_buf.split_to(len);
                    if let Some(key) = header.mask {
                        apply_mask(&mut payload, key, 0);
                    }
                    let message = if header.opcode == OpCode::Text {
                        let text = Utf8Bytes::try_from_bytes(payload.freeze())
                            .map_err(|_| ProtocolError::InvalidUtf8)?;
                        Message::Text(text)
                    } else {
                        Message::Binary(payload.freeze())
                    };
                    self.stats.messages_in += 1;
                    return Ok(Some(message));
                }
                self.start_message(&header, len);
                self.read_buf.advance(header_len);
                self.frame = Some(InFrame {
                    header,
                    len,
                    processed: 0,
                });
            }
            let Some(frame) = self.frame.as_mut() else {
                return Ok(None);
            };
            let available = self.read_buf.len().min(frame.len);
            if available > frame.processed {
                let fresh = &mut self.read_buf[frame.processed..available];
                if let Some(key) = frame.header.mask {
                    apply_mask(fresh, key, frame.processed);
                }
                let streaming_text = !frame.header.opcode.is_control()
                    && matches!(&self.message, Some(m) if m.opcode == OpCode::Text && !m.compressed);
                if streaming_text && self.utf8.feed(fresh).is_err() {
                    return Err(ProtocolError::InvalidUtf8.into());
                }
                frame.processed = available;
            }
            if self.read_buf.len() < frame.len {
                return Ok(None);
            }
            let header = frame.header;
            let payload = self.read_buf.split_to(frame.len);
            self.frame = None;
            let message = if header.opcode.is_control() {
                self.on_control(header.opcode, payload.freeze())?
            } else {
                self.on_data(header.fin, payload)?
            };
            if message.is_some() {
                return Ok(message);
            }
        }
    }

    /// Checks a header against the protocol and the limits; returns the
    /// payload length. Counts a continuation frame towards its message's
    /// size.
    fn check_header(&mut self, header: &FrameHeader) -> Result<usize, Error> {
        if header.rsv2 || header.rsv3 {
            return Err(ProtocolError::ReservedBits.into());
        }
        if header.rsv1 {
            if self.deflate.is_none() {
                return Err(ProtocolError::ReservedBits.into());
            }
            if !matches!(header.opcode, OpCode::Text | OpCode::Binary) {
                return Err(ProtocolError::MisplacedCompressedBit.into());
            }
        }
        match (self.role, header.mask.is_some()) {
            (Role::Server, false) => return Err(ProtocolError::UnmaskedFrame.into()),
            (Role::Client, true) => return Err(ProtocolError::MaskedFrame.into()),
            _ => {}
        }
        if header.opcode.is_control() {
            if header.payload_len > MAX_CONTROL_PAYLOAD as u64 {
                return Err(ProtocolError::ControlFrameTooBig.into());
            }
            if !header.fin {
                return Err(ProtocolError::FragmentedControlFrame.into());
            }
            return Ok(header.payload_len as usize);
        }
        let len = usize::try_from(header.payload_len).unwrap_or(usize::MAX);
        if len > self.config.max_frame_size {
            return Err(Error::MessageTooBig {
                limit: self.config.max_frame_size,
            });
        }
        match (&mut self.message, header.opcode) {
            (None, OpCode::Continuation) => Err(ProtocolError::UnexpectedContinuation.into()),
            (Some(_), OpCode::Text | OpCode::Binary) => {
                Err(ProtocolError::ExpectedContinuation.into())
            }
            (Some(message), _) => {
                message.wire_len = message.wire_len.saturating_add(len);
                check_message_len(message.wire_len, self.config.max_message_size)?;
                Ok(len)
            }
            (None, _) => {
                check_message_len(len, self.config.max_message_size)?;
                Ok(len)
            }
        }
    }

    /// Starts a data message on its first frame (whose header passed
    /// [`check_header`](Self::check_header)).
    fn start_message(&mut self, header: &FrameHeader, len: usize) {
        if self.message.is_none() && matches!(header.opcode, OpCode::Text | OpCode::Binary) {
            self.utf8 = Utf8Validator::new();
            self.message = Some(InMessage {
                opcode: header.opcode,
                compressed: header.rsv1,
                buf: BytesMut::new(),
                continued: false,
                wire_len: len,
            });
        }
    }

    fn on_data(&mut self, fin: bool, payload: BytesMut) -> Result<Option<Message>, Error> {
        let Some(message) = &mut self.message else {
            return Err(Error::InvalidInput("data frame without a message")); // unreachable: checked in the header
        };
        if message.compressed {
            let deflate = self
                .deflate
                .as_mut()
                .ok_or(Error::Protocol(ProtocolError::ReservedBits))?;
            let before = message.buf.len();
            deflate
                .decompress(
                    &payload,
                    fin,
                    &mut message.buf,
                    self.config.max_message_size,
                )
                .map_err(|e| match e {
                    DeflateError::TooBig => Error::MessageTooBig {
                        limit: self.config.max_message_size,
                    },
                    other => ProtocolError::InvalidCompressedData(other.to_string()).into(),
                })?;
            if message.opcode == OpCode::Text && self.utf8.feed(&message.buf[before..]).is_err() {
                return Err(ProtocolError::InvalidUtf8.into());
            }
        } else if fin && !message.continued {
            message.buf = payload; // a single-frame message: no copy
        } else {
            message.buf.extend_from_slice(&payload);
        }
        message.continued = true;
        if !fin {
            return Ok(None);
        }
        let Some(message) = self.message.take() else {
            return Ok(None);
        };
        let bytes = message.buf.freeze();
        let message_out = match message.opcode {
            OpCode::Text => {
                if self.utf8.finish().is_err() {
                    return Err(ProtocolError::InvalidUtf8.into());
                }
                Message::Text(Utf8Bytes::from_bytes_unchecked(bytes))
            }
            _ => Message::Binary(bytes),
        };
        self.stats.messages_in += 1;
        self.stats.compressed_in += u64::from(message.compressed);
        Ok(Some(message_out))
    }

    fn on_control(&mut self, opcode: OpCode, payload: Bytes) -> Result<Option<Message>, Error> {
        match opcode {
            OpCode::Ping => {
                // A peer that pings without reading must not grow our
                // buffer: past the high-water mark, pongs are skipped (a pong
                // may answer only the most recent ping, RFC 6455 §5.5.3).
                if self.config.auto_pong && !self.close_sent && !self.wants_flush() {
                    self.write_frame(OpCode::Pong, true, false, payload.clone());
                }
                Ok(Some(Message::Ping(payload)))
            }
            OpCode::Pong => Ok(Some(Message::Pong(payload))),
            _ => {
                let frame = parse_close_payload(&payload)?;
                if !self.close_sent {
                    // Echo the status code (RFC 6455 §5.5.1), without the reason.
                    let reply = frame.as_ref().map(|f| CloseFrame::new(f.code, ""));
                    self.queue_close(reply.as_ref());
                }
                self.close_received = Some(frame.clone());
                self.read_buf = BytesMut::new();
                Ok(Some(Message::Close(frame)))
            }
        }
    }

    /// Fails the connection: queue the close frame for `error` (unless one
    /// was sent already) and stop reading.
    fn fail(&mut self, error: Error) {
        if !self.close_sent {
            if let Some(frame) = error.close_frame() {
                self.queue_close(Some(&frame));
            }
        }
        self.close_sent = true;
        self.failure = Some(error);
        self.read_buf = BytesMut::new();
        self.frame = None;
        self.message = None;
    }

    // ----- output ------------------------------------------------------------

    /// Queues a message, ping, pong or close frame for sending.
    ///
    /// Text and binary messages are compressed when permessage-deflate is on
    /// and the message is at least the configured size. After a close frame
    /// nothing more can be sent ([`Error::Closed`]).
    pub fn send(&mut self, message: Message) -> Result<(), Error> {
        if self.close_sent {
            return Err(Error::Closed);
        }
        if self.buffered > self.config.max_write_buffer {
            return Err(Error::WriteBufferFull);
        }
        match message {
            Message::Text(text) => self.send_data(OpCode::Text, text.into_bytes()),
            Message::Binary(bytes) => self.send_data(OpCode::Binary, bytes),
            Message::Ping(payload) | Message::Pong(payload)
                if payload.len() > MAX_CONTROL_PAYLOAD =>
            {
                Err(Error::InvalidInput(
                    "control frame payload exceeds 125 bytes",
                ))
            }
            Message::Ping(payload) => {
                self.write_frame(OpCode::Ping, true, false, payload);
                Ok(())
            }
            Message::Pong(payload) => {
                self.write_frame(OpCode::Pong, true, false, payload);
                Ok(())
            }
            Message::Close(frame) => {
                if let Some(frame) = &frame {
                    if !frame.code.is_sendable() {
                        return Err(Error::InvalidInput("close code may not be sent"));
                    }
                    if frame.reason.len() > MAX_CLOSE_REASON {
                        return Err(Error::InvalidInput("close reason exceeds 123 bytes"));
                    }
                }
                self.queue_close(frame.as_ref());
                Ok(())
            }
        }
    }

    /// Starts the closing handshake with `code` and `reason` (a shorthand for
    /// sending [`Message::Close`]).
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        self.send(Message::Close(Some(CloseFrame::new(code, reason))))
    }

    fn send_data(&mut self, opcode: OpCode, payload: Bytes) -> Result<(), Error> {
        let compress = self
            .deflate
            .as_ref()
            .is_some_and(|d| d.should_compress(payload.len()));
        let (payload, rsv1) = if compress {
            let mut out = BytesMut::with_capacity(payload.len() / 2 + 16);
            let deflate = self.deflate.as_mut().ok_or(Error::Closed)?;
            deflate
                .compress(&payload, &mut out)
                .map_err(|_| Error::InvalidInput("compression failed"))?;
            (out.freeze(), true)
        } else {
            (payload, false)
        };
        self.stats.messages_out += 1;
        self.stats.compressed_out += u64::from(rsv1);
        let max = self.config.max_send_frame_size;
        if payload.len() <= max {
            self.write_frame(opcode, true, rsv1, payload);
            return Ok(());
        }
        let mut rest = payload;
        let mut first = true;
        while !rest.is_empty() {
            let piece = rest.split_to(rest.len().min(max));
            let op = if first { opcode } else { OpCode::Continuation };
            self.write_frame(op, rest.is_empty(), rsv1 && first, piece);
            first = false;
        }
        Ok(())
    }

    fn queue_close(&mut self, frame: Option<&CloseFrame>) {
        self.write_frame(OpCode::Close, true, false, CloseFrame::to_payload(frame));
        self.close_sent = true;
    }

    fn write_frame(&mut self, opcode: OpCode, fin: bool, rsv1: bool, payload: Bytes) {
        let mask = match self.role {
            Role::Client => Some(rand::random::<[u8; 4]>()),
            Role::Server => None,
        };
        let header = FrameHeader {
            fin,
            rsv1,
            rsv2: false,
            rsv3: false,
            opcode,
            mask,
            payload_len: payload.len() as u64,
        };
        self.buffered += header.len() + payload.len();
        header.encode(&mut self.staging);
        match mask {
            None if payload.len() >= ZERO_COPY_MIN => {
                self.flush_staging();
                self.out.push_back(payload);
            }
            None => self.staging.extend_from_slice(&payload),
            Some(key) if payload.len() >= ZERO_COPY_MIN => match payload.try_into_mut() {
                Ok(mut owned) => {
                    // We hold the only reference: mask in place, no copy.
                    apply_mask(&mut owned, key, 0);
                    self.flush_staging();
                    self.out.push_back(owned.freeze());
                }
                Err(shared) => self.stage_masked(&shared, key),
            },
            Some(key) => self.stage_masked(&payload, key),
        }
    }

    fn stage_masked(&mut self, payload: &[u8], key: [u8; 4]) {
        let start = self.staging.len();
        self.staging.extend_from_slice(payload);
        apply_mask(&mut self.staging[start..], key, 0);
    }

    fn flush_staging(&mut self) {
        if !self.staging.is_empty() {
            self.out.push_back(self.staging.split().freeze());
        }
    }

    /// Bytes queued for sending and not yet taken by the driver.
    pub fn buffered_amount(&self) -> usize {
        self.buffered
    }

    /// Whether there are bytes to write.
    pub fn has_transmit(&self) -> bool {
        self.buffered > 0
    }

    /// Whether the driver should write out the buffer before queuing more
    /// messages (the buffered amount passed the high-water mark).
    pub fn wants_flush(&self) -> bool {
        self.buffered >= self.config.write_buffer_high_water
    }

    /// Takes the next chunk of bytes to write, or `None` when all is taken.
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        let chunk = match self.out.pop_front() {
            Some(chunk) => chunk,
            None if !self.staging.is_empty() => self.staging.split().freeze(),
            None => {
                self.release_staging();
                return None;
            }
        };
        self.buffered -= chunk.len();
        Some(chunk)
    }

    /// The queued bytes, when they are all in one chunk: a driver can write
    /// them with a plain write instead of gathering slices. This is the
    /// usual case, since small frames are coalesced into one buffer. `None`
    /// when nothing is queued or the bytes span several chunks (then use
    /// [`transmit_slices`](Self::transmit_slices)). Written bytes are
    /// reported with [`advance_transmit`](Self::advance_transmit).
    pub fn transmit_contiguous(&self) -> Option<&[u8]> {
        match self.out.front() {
            None if !self.staging.is_empty() => Some(&self.staging),
            Some(front) if self.out.len() == 1 && self.staging.is_empty() => Some(front),
            _ => None,
        }
    }

    /// Fills `dst` with the queued bytes, in order, for a vectored write;
    /// returns how many slices were filled.
    pub fn transmit_slices<'a>(&'a self, dst: &mut [IoSlice<'a>]) -> usize {
        let chunks = self
            .out
            .iter()
            .map(|b| &b[..])
            .chain(std::iter::once(&self.staging[..]))
            .filter(|s| !s.is_empty());
        let mut n = 0;
        for (slot, chunk) in dst.iter_mut().zip(chunks) {
            *slot = IoSlice::new(chunk);
            n += 1;
        }
        n
    }

    /// Marks `n` bytes, from the front of the queue, as written.
    pub fn advance_transmit(&mut self, mut n: usize) {
        assert!(n <= self.buffered, "advanced past the queued bytes");
        self.buffered -= n;
        while n > 0 {
            match self.out.front_mut() {
                Some(front) if front.len() <= n => {
                    n -= front.len();
                    self.out.pop_front();
                }
                Some(front) => {
                    front.advance(n);
                    return;
                }
                None if n == self.staging.len() => {
                    // All written: `clear` keeps the buffer's start where it
                    // is, so the next frames are staged without reclaiming
                    // the space that `advance` would have skipped.
                    self.staging.clear();
                    n = 0;
                }
                None => {
                    self.staging.advance(n);
                    n = 0;
                }
            }
        }
        if self.buffered == 0 {
            self.release_staging();
        }
    }

    /// Drops a large, now empty, output buffer so an idle connection holds
    /// no memory it does not need.
    fn release_staging(&mut self) {
        if self.staging.capacity() > 64 * 1024 {
            self.staging = BytesMut::new();
        } else {
            self.staging.clear();
        }
    }

    // ----- closing -----------------------------------------------------------

    /// Whether a close frame has been queued (by us, as a reply, or to fail
    /// the connection).
    pub fn is_close_sent(&self) -> bool {
        self.close_sent
    }

    /// Whether the closing handshake is complete or the connection failed:
    /// nothing more will be sent or received.
    pub fn is_closed(&self) -> bool {
        self.failure.is_some() || (self.close_sent && self.close_received.is_some())
    }

    /// Whether the driver should now close the transport, once the queued
    /// bytes are written: a server does after the closing handshake (it closes
    /// TCP first, RFC 6455 §7.1.1), either side does after failing the
    /// connection. A client that completed the handshake instead waits, with
    /// a timeout, for the server to close.
    pub fn should_close_transport(&self) -> bool {
        self.failure.is_some() || (self.role == Role::Server && self.is_closed())
    }

    /// How the connection ended, once it has.
    pub fn close_status(&self) -> Option<CloseStatus> {
        if let Some(error) = &self.failure {
            return Some(match error {
                Error::AbnormalClosure => CloseStatus::Abnormal,
                other => CloseStatus::Failed(other.clone()),
            });
        }
        match (&self.close_received, self.close_sent) {
            (Some(frame), true) => Some(CloseStatus::Clean(frame.clone())),
            _ => None,
        }
    }
}

fn check_message_len(len: usize, limit: usize) -> Result<(), Error> {
    if len > limit {
        Err(Error::MessageTooBig { limit })
    } else {
        Ok(())
    }
}

/// Parses and checks a close frame body (RFC 6455 §5.5.1, §7.4).
fn parse_close_payload(payload: &[u8]) -> Result<Option<CloseFrame>, Error> {
    match payload.len() {
        0 => Ok(None),
        1 => Err(ProtocolError::InvalidCloseFrame.into()),
        _ => {
            let code = CloseCode(u16::from_be_bytes([payload[0], payload[1]]));
            if !code.is_sendable() {
                return Err(ProtocolError::InvalidCloseCode(code.0).into());
            }
            let reason = Utf8Bytes::try_from_bytes(Bytes::copy_from_slice(&payload[2..]))
                .map_err(|_| ProtocolError::InvalidUtf8)?;
            Ok(Some(CloseFrame { code, reason }))
        }
    }
}
