//! [`WebSocket`]: an open connection over any `AsyncRead + AsyncWrite`.

use std::future::Future;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use bytes::BytesMut;
use duplex_proto::deflate::DeflateParams;
use duplex_proto::{CloseCode, CloseStatus, Config, Connection, Message, Role, MAX_HEADER_LEN};
use futures_core::Stream;
use futures_sink::Sink;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

use crate::error::{Error, Result};

/// Bytes read at a time while a connection is between messages. They land
/// on the stack first, so an idle connection holds no read buffer at all.
const IDLE_READ: usize = 8 * 1024;
/// Bytes reserved at a time for the rest of a frame that is arriving, when
/// the read buffer has no room for it.
const FRAME_READ: usize = 64 * 1024;
/// Largest single reservation for a frame still arriving: a peer that
/// announces a 16 MiB frame gets memory as it sends, not up front.
const MAX_FRAME_RESERVE: usize = 1 << 20;
/// Slices gathered for one vectored write.
const MAX_IOSLICES: usize = 32;

/// How long to wait, by default, for the peer's side of the closing
/// handshake (its close frame, or a client for the server's TCP close).
pub const DEFAULT_CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// An open WebSocket connection.
///
/// It is a [`Stream`] of received [`Message`]s (including pings, pongs and the
/// peer's close frame) and a [`Sink`] of messages to send; [`send`](Self::send),
/// [`recv`](Self::recv) and [`close`](Self::close) are there for code that does
/// not use the futures combinators. [`split`](Self::split) gives halves that
/// can be used from two tasks.
///
/// Pings are answered, close frames replied to, and the transport is closed
/// as RFC 6455 asks (the server first), all while the stream is polled: keep
/// reading until the stream ends even after sending a close.
pub struct WebSocket<S> {
    /// The transport.
    io: S,
    /// The protocol state machine.
    conn: Connection,
    /// The subprotocol the handshake settled on.
    protocol: Option<String>,
    /// How long to wait for the peer's part of the closing handshake.
    close_timeout: Duration,
    /// Armed once we sent a close frame (or, for a client, once the closing
    /// handshake completed): when it fires we stop waiting for the peer.
    close_deadline: Option<Pin<Box<Sleep>>>,
    /// The stream has ended: the transport is shut down or abandoned.
    finished: bool,
    /// How large a buffer to read into between messages, when large frames
    /// have been arriving (0: read onto the stack). See `poll_read_more`.
    direct_read: usize,
}

impl<S> std::fmt::Debug for WebSocket<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSocket")
            .field("role", &self.conn.role())
            .field("protocol", &self.protocol)
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}

impl<S> WebSocket<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    /// Wraps a transport on which the opening handshake is already done.
    ///
    /// `leftover` holds bytes read past the handshake (the peer's first
    /// frames); `deflate` the negotiated permessage-deflate parameters.
    pub fn from_raw(
        io: S,
        role: Role,
        config: Config,
        deflate: Option<DeflateParams>,
        leftover: &[u8],
    ) -> Self {
        let mut conn = Connection::new(role, config, deflate);
        conn.recv(leftover);
        WebSocket {
            io,
            conn,
            protocol: None,
            close_timeout: DEFAULT_CLOSE_TIMEOUT,
            close_deadline: None,
            finished: false,
            direct_read: 0,
        }
    }

    pub(crate) fn with_protocol(mut self, protocol: Option<String>) -> Self {
        self.protocol = protocol;
        self
    }

    /// Sets how long to wait for the peer's part of the closing handshake
    /// before giving up and closing the transport (default 5 s).
    pub fn set_close_timeout(&mut self, timeout: Duration) {
        self.close_timeout = timeout;
    }

    /// The negotiated subprotocol, if any.
    pub fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// Whether permessage-deflate was negotiated.
    pub fn is_compressed(&self) -> bool {
        self.conn.is_compressed()
    }

    /// Our role.
    pub fn role(&self) -> Role {
        self.conn.role()
    }

    /// How the connection ended: a clean close with the peer's code and
    /// reason, a failure with the code we sent, or abnormal closure (1006).
    /// `None` while it is open (or if the peer never answered our close).
    pub fn close_status(&self) -> Option<CloseStatus> {
        self.conn.close_status()
    }

    /// The transport.
    pub fn get_ref(&self) -> &S {
        &self.io
    }

    /// The transport, mutably. Writing to it directly corrupts the stream.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.io
    }

    /// The protocol state machine (limits, buffered amount, close state).
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// Sends a message and writes it out.
    pub async fn send(&mut self, message: impl Into<Message>) -> Result<()> {
        let message = message.into();
        std::future::poll_fn(|cx| self.poll_ready_send(cx)).await?;
        self.conn.send(message)?;
        std::future::poll_fn(|cx| self.poll_flush_all(cx)).await
    }

    /// Queues a message without writing it. Many queued messages go out in
    /// one write: at [`flush`](Self::flush), or when the stream is next
    /// polled ([`recv`](Self::recv), `next()`) and has no received message
    /// left to hand out, before it waits for more. So a loop that feeds its
    /// replies to what it reads needs no flush: replies to a burst of
    /// messages go out together, and a lone reply at once.
    pub async fn feed(&mut self, message: impl Into<Message>) -> Result<()> {
        std::future::poll_fn(|cx| self.poll_ready_send(cx)).await?;
        Ok(self.conn.send(message.into())?)
    }

    /// Writes out everything queued.
    pub async fn flush(&mut self) -> Result<()> {
        std::future::poll_fn(|cx| self.poll_flush_all(cx)).await
    }

    /// The next message: `None` once the connection has ended.
    pub async fn recv(&mut self) -> Option<Result<Message>> {
        std::future::poll_fn(|cx| self.poll_next_message(cx)).await
    }

    /// Closes the connection: sends a close frame (unless one was sent),
    /// then reads (and discards) messages until the peer's close frame and
    /// the end of the transport, or the close timeout.
    ///
    /// Returns how the connection ended.
    pub async fn close(&mut self, code: CloseCode, reason: &str) -> Result<Option<CloseStatus>> {
        if !self.conn.is_close_sent() {
            self.conn.close(code, reason)?;
        }
        while let Some(item) = self.recv().await {
            if let Err(e) = item {
                if !matches!(e, Error::Io(_) | Error::AbnormalClosure) {
                    return Err(e);
                }
            }
        }
        Ok(self.conn.close_status())
    }

    // ----- the driver --------------------------------------------------------

    /// Writes queued bytes until none are left.
    pub(crate) fn poll_write_out(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.conn.has_transmit() {
            let written = if let Some(chunk) = self.conn.transmit_contiguous() {
                // The usual case (small frames coalesced in one buffer): no
                // slices to gather.
                ready!(Pin::new(&mut self.io).poll_write(cx, chunk))?
            } else {
                let mut slices = [IoSlice::new(&[]); MAX_IOSLICES];
                let n = self.conn.transmit_slices(&mut slices);
                if n > 1 && self.io.is_write_vectored() {
                    ready!(Pin::new(&mut self.io).poll_write_vectored(cx, &slices[..n]))?
                } else {
                    ready!(Pin::new(&mut self.io).poll_write(cx, &slices[0]))?
                }
            };
            if written == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.conn.advance_transmit(written);
        }
        Poll::Ready(Ok(()))
    }

    pub(crate) fn poll_flush_all(&mut self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        ready!(self.poll_write_out(cx))?;
        ready!(Pin::new(&mut self.io).poll_flush(cx))?;
        Poll::Ready(Ok(()))
    }

    pub(crate) fn poll_ready_send(&mut self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        if self.conn.is_close_sent() {
            return Poll::Ready(Err(Error::Closed));
        }
        if self.conn.wants_flush() {
            ready!(self.poll_write_out(cx))?;
        }
        Poll::Ready(Ok(()))
    }

    pub(crate) fn start_send_message(&mut self, message: Message) -> Result<()> {
        Ok(self.conn.send(message)?)
    }

    pub(crate) fn poll_close_sink(&mut self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        if !self.conn.is_close_sent() {
            self.conn.close(CloseCode::NORMAL, "")?;
        }
        self.poll_flush_all(cx)
    }

    /// Reads more bytes into the connection: `Ok(0)` at end of stream.
    fn poll_read_more(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let wanted = self.conn.bytes_wanted();
        let buf = self.conn.read_buffer();
        if buf.is_empty() && wanted == 0 {
            // Between messages. While large frames are arriving, a buffer
            // of the size they needed is read into directly (a 64 KiB
            // message then arrives in one read, with no copy): the one left
            // over when no message still uses it, or a fresh one. Otherwise
            // the bytes land on the stack first.
            if self.direct_read == 0 {
                // Uninitialized: zeroing 8 KiB on every read costs more than the parsing.
                let mut stack = [const { std::mem::MaybeUninit::<u8>::uninit() }; IDLE_READ];
                let mut read_buf = ReadBuf::uninit(&mut stack);
                if Pin::new(&mut self.io)
                    .poll_read(cx, &mut read_buf)?
                    .is_pending()
                {
                    self.conn.release_idle_buffers();
                    return Poll::Pending;
                }
                let n = read_buf.filled().len();
                self.conn.recv(read_buf.filled());
                return Poll::Ready(Ok(n));
            }
            if !buf.try_reclaim(self.direct_read) {
                *buf = BytesMut::with_capacity(self.direct_read);
            }
            let read = tokio_util::io::poll_read_buf(Pin::new(&mut self.io), cx, buf);
            match read {
                Poll::Pending => self.conn.release_idle_buffers(),
                // A small read: large frames have stopped coming.
                Poll::Ready(Ok(n)) if n < IDLE_READ => self.direct_read = 0,
                Poll::Ready(_) => {}
            }
            return read;
        }
        if buf.capacity() - buf.len() < wanted.clamp(MAX_HEADER_LEN, MAX_FRAME_RESERVE) {
            // Grow only when the free space cannot take the rest of the
            // frame in progress (or of a cut header): growing moves the bytes
            // already received, most of a 64 KiB frame when its last
            // segment is still on the way.
            buf.reserve(wanted.clamp(FRAME_READ, MAX_FRAME_RESERVE));
            self.direct_read = buf.capacity().min(MAX_FRAME_RESERVE);
        }
        tokio_util::io::poll_read_buf(Pin::new(&mut self.io), cx, buf)
    }

    /// Polls the close deadline, arming it first if needed: `Ready` once it
    /// has passed.
    fn poll_close_deadline(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let timeout = self.close_timeout;
        self.close_deadline
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)))
            .as_mut()
            .poll(cx)
    }

    /// Ends the connection after the closing handshake or a failure: write
    /// what is queued, then close the transport (server, or after a failure)
    /// or wait for the server to close it (client).
    fn poll_finish(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.conn.has_transmit() {
            match self.poll_write_out(cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(_)) => return Poll::Ready(()), // peer gone: nothing left to do
                Poll::Pending => {
                    ready!(self.poll_close_deadline(cx));
                    return Poll::Ready(());
                }
            }
        }
        if !self.conn.should_close_transport() {
            // A client waits for the server to close TCP (RFC 6455 §7.1.1).
            loop {
                if self.poll_close_deadline(cx).is_ready() {
                    break;
                }
                let mut scratch = [0u8; 256];
                let mut read_buf = ReadBuf::new(&mut scratch);
                match ready!(Pin::new(&mut self.io).poll_read(cx, &mut read_buf)) {
                    Ok(()) if read_buf.filled().is_empty() => break,
                    Ok(()) => continue, // nothing may follow a close frame; discard it
                    Err(_) => break,
                }
            }
        }
        self.poll_shutdown_bounded(cx)
    }

    /// Shuts the transport down, giving up when the close deadline passes
    /// (a TLS peer that stops reading could otherwise hold us forever).
    fn poll_shutdown_bounded(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        match Pin::new(&mut self.io).poll_shutdown(cx) {
            Poll::Ready(_) => Poll::Ready(()),
            Poll::Pending => self.poll_close_deadline(cx),
        }
    }

    /// The heart of the read side; see [`Stream::poll_next`].
    pub(crate) fn poll_next_message(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Message>>> {
        if self.finished {
            return Poll::Ready(None);
        }
        loop {
            match self.conn.poll_message() {
                // The pong for a ping goes out at once (the application may
                // not poll again soon). Anything else queued (what the
                // application fed) is written below, once the buffered
                // messages are used up, so that replies to a burst of
                // messages go out in one write.
                Ok(Some(message)) => {
                    if matches!(message, Message::Ping(_)) && self.conn.has_transmit() {
                        if let Poll::Ready(Err(e)) = self.poll_write_out(cx) {
                            return Poll::Ready(Some(Err(self.transport_failed(e))));
                        }
                    }
                    return Poll::Ready(Some(Ok(message)));
                }
                Err(e) => {
                    // The close frame that fails the connection goes out with
                    // the error, so the peer learns the code even when the
                    // application stops reading here (`while let Some(Ok(..))`).
                    if self.conn.has_transmit() {
                        let _ = self.poll_write_out(cx);
                    }
                    return Poll::Ready(Some(Err(e.into())));
                }
                Ok(None) => {}
            }
            if self.conn.is_read_closed() {
                ready!(self.poll_finish(cx));
                self.finished = true;
                return Poll::Ready(None);
            }
            if self.conn.is_close_sent() && self.poll_close_deadline(cx).is_ready() {
                // The peer never answered our close frame.
                ready!(self.poll_shutdown_bounded(cx));
                self.finished = true;
                return Poll::Ready(None);
            }
            // What the application fed goes out here, once the messages
            // already received are used up and before waiting for more
            // (see `feed`). A write that would block does not stop reading.
            if self.conn.has_transmit() {
                if let Poll::Ready(Err(e)) = self.poll_write_out(cx) {
                    return Poll::Ready(Some(Err(self.transport_failed(e))));
                }
            }
            match ready!(self.poll_read_more(cx)) {
                Ok(0) => self.conn.recv_eof(),
                Ok(_) => {}
                Err(e) => return Poll::Ready(Some(Err(self.transport_failed(e)))),
            }
        }
    }

    /// The transport failed (a read or a write gave an error): the stream
    /// reports the error once and then ends. A transport that failed keeps
    /// failing (a reset socket gives `EPIPE` on every write), so retrying
    /// on the next poll would only spin.
    fn transport_failed(&mut self, e: io::Error) -> Error {
        self.conn.recv_eof();
        let _ = self.conn.poll_message();
        self.finished = true;
        e.into()
    }
}

impl<S> Stream for WebSocket<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    type Item = Result<Message>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_next_message(cx)
    }
}

impl<S> Sink<Message> for WebSocket<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        self.get_mut().poll_ready_send(cx)
    }

    fn start_send(self: Pin<&mut Self>, item: Message) -> Result<()> {
        self.get_mut().start_send_message(item)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        self.get_mut().poll_flush_all(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        self.get_mut().poll_close_sink(cx)
    }
}
