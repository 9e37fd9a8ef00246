//! The handle other parts of the server hold on one connection.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::{mpsc, Notify};

use crate::auth::SocketId;
use crate::protocol::Frame;

/// Why and how a connection is to be closed: a close code and a reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseOrder {
    /// The WebSocket close code (a Pusher code such as 4009, or 1001).
    pub code: u16,
    /// The reason sent with the close frame and in `pusher:error`.
    pub reason: String,
}

/// Asks a connection's task to close. The first order wins.
#[derive(Debug, Default)]
pub struct Closer {
    order: Mutex<Option<CloseOrder>>,
    notify: Notify,
}

impl Closer {
    /// Orders the connection closed with `code` and `reason`.
    pub fn close(&self, code: u16, reason: impl Into<String>) {
        let mut order = self.order.lock().unwrap_or_else(|e| e.into_inner());
        if order.is_none() {
            *order = Some(CloseOrder {
                code,
                reason: reason.into(),
            });
            // notify_one keeps a permit if the task is not waiting right now.
            self.notify.notify_one();
        }
    }

    /// Waits for a close order.
    pub async fn closed(&self) -> CloseOrder {
        loop {
            if let Some(order) = self.order.lock().unwrap_or_else(|e| e.into_inner()).clone() {
                return order;
            }
            self.notify.notified().await;
        }
    }
}

/// A frame waiting in a connection's queue, with when it was queued (for
/// the publish-to-send latency).
#[derive(Debug, Clone)]
pub struct Outbound {
    /// The frame.
    pub frame: Frame,
    /// When it was queued.
    pub queued_at: Instant,
}

/// One connection as seen from channels and the API: where to send its
/// frames and how to close it. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ConnHandle {
    /// The connection's socket id.
    pub socket_id: SocketId,
    /// Its bounded send queue. Fan-out never waits on it.
    tx: mpsc::Sender<Outbound>,
    /// Closes the connection.
    closer: Arc<Closer>,
    /// Set once the queue overflowed, so the overflow is reported once.
    overflowed: Arc<AtomicBool>,
    /// Counts frames dropped on full queues (process-wide metric).
    drops: Arc<AtomicU64>,
}

impl ConnHandle {
    /// A handle and the receiving end of its send queue of `capacity` frames.
    pub fn new(
        socket_id: SocketId,
        capacity: usize,
        drops: Arc<AtomicU64>,
    ) -> (Self, mpsc::Receiver<Outbound>, Arc<Closer>) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let closer = Arc::new(Closer::default());
        (
            ConnHandle {
                socket_id,
                tx,
                closer: closer.clone(),
                overflowed: Arc::new(AtomicBool::new(false)),
                drops,
            },
            rx,
            closer,
        )
    }

    /// Queues a frame without waiting. A full queue means the client does
    /// not keep up: it is disconnected with 4100 rather than slowing down
    /// everyone else or growing memory. Returns whether the frame was queued.
    pub fn send(&self, frame: Frame) -> bool {
        let outbound = Outbound {
            frame,
            queued_at: Instant::now(),
        };
        match self.tx.try_send(outbound) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.drops.fetch_add(1, Ordering::Relaxed);
                if !self.overflowed.swap(true, Ordering::Relaxed) {
                    tracing::info!(socket_id = %self.socket_id, "send queue full: disconnecting slow client");
                    self.closer
                        .close(4100, "Over capacity: the client does not read fast enough");
                }
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    /// Orders the connection closed.
    pub fn close(&self, code: u16, reason: impl Into<String>) {
        self.closer.close(code, reason);
    }
}
