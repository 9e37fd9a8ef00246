//! Splitting a [`WebSocket`] into a read half and a write half.
//!
//! Both halves drive the same connection: reading may need to write (pongs,
//! the close reply) and writing may find the connection closed. They share it
//! behind a mutex that is held only for the length of one poll, never across
//! an await. Since either half may wait on the transport on behalf of the
//! other, the transport is polled with a waker that wakes both halves' tasks;
//! a spurious wake-up costs one poll, a lost one would hang a task.

use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Wake, Waker};

use duplex_proto::{CloseStatus, Message};
use futures_core::Stream;
use futures_sink::Sink;
use futures_util::task::AtomicWaker;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::error::{Error, Result};
use crate::websocket::WebSocket;

/// Wakes the tasks of both halves.
#[derive(Default)]
struct BothWakers {
    read: AtomicWaker,
    write: AtomicWaker,
}

impl Wake for BothWakers {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.read.wake();
        self.write.wake();
    }
}

struct Shared<S> {
    ws: Mutex<WebSocket<S>>,
    wakers: Arc<BothWakers>,
    /// The waker made from `wakers`, built once.
    waker: Waker,
}

impl<S> Shared<S> {
    fn lock(&self) -> MutexGuard<'_, WebSocket<S>> {
        // A panic while polling leaves nothing half-done that matters more
        // than the panic itself; carry on with the state as it is.
        self.ws
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The read half of a split [`WebSocket`]: a [`Stream`] of messages.
pub struct WsReader<S> {
    shared: Arc<Shared<S>>,
}

/// The write half of a split [`WebSocket`]: a [`Sink`] of messages.
pub struct WsWriter<S> {
    shared: Arc<Shared<S>>,
}

impl<S> std::fmt::Debug for WsReader<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WsReader")
    }
}

impl<S> std::fmt::Debug for WsWriter<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WsWriter")
    }
}

impl<S> WebSocket<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    /// Splits the connection into a reader and a writer that can be moved to
    /// different tasks.
    pub fn split(self) -> (WsReader<S>, WsWriter<S>) {
        let wakers = Arc::new(BothWakers::default());
        let shared = Arc::new(Shared {
            ws: Mutex::new(self),
            waker: Waker::from(wakers.clone()),
            wakers,
        });
        (
            WsReader {
                shared: shared.clone(),
            },
            WsWriter { shared },
        )
    }
}

impl<S> WsReader<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    /// The next message: `None` once the connection has ended.
    pub async fn recv(&mut self) -> Option<Result<Message>> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }

    /// How the connection ended, once it has.
    pub fn close_status(&self) -> Option<CloseStatus> {
        self.shared.lock().close_status()
    }

    /// Whether `writer` is the other half of this connection.
    pub fn is_pair_of(&self, writer: &WsWriter<S>) -> bool {
        Arc::ptr_eq(&self.shared, &writer.shared)
    }
}

impl<S> WsWriter<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    /// Sends a message and writes it out.
    pub async fn send(&mut self, message: impl Into<Message>) -> Result<()> {
        let message = message.into();
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_ready(cx)).await?;
        Pin::new(&mut *self).start_send(message)?;
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_flush(cx)).await
    }
}

impl<S> Stream for WsReader<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    type Item = Result<Message>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let shared = &self.shared;
        shared.wakers.read.register(cx.waker());
        let mut cx = Context::from_waker(&shared.waker);
        shared.lock().poll_next_message(&mut cx)
    }
}

impl<S> Sink<Message> for WsWriter<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let shared = &self.shared;
        shared.wakers.write.register(cx.waker());
        let mut cx = Context::from_waker(&shared.waker);
        shared.lock().poll_ready_send(&mut cx)
    }

    fn start_send(self: Pin<&mut Self>, item: Message) -> Result<()> {
        self.shared.lock().start_send_message(item)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let shared = &self.shared;
        shared.wakers.write.register(cx.waker());
        let mut cx = Context::from_waker(&shared.waker);
        shared.lock().poll_flush_all(&mut cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let shared = &self.shared;
        shared.wakers.write.register(cx.waker());
        let mut cx = Context::from_waker(&shared.waker);
        shared.lock().poll_close_sink(&mut cx)
    }
}
