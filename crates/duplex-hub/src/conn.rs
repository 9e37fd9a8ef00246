//! The handle other parts of the server hold on one connection.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use tokio::sync::Notify;

use duplex_pusher::auth::SocketId;
use duplex_pusher::protocol::Encoded;

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
    pub frame: Encoded,
    /// When it was queued.
    pub queued_at: Instant,
}

/// Slots an emptied send queue may keep; a longer one is freed.
const KEEP_QUEUE_SLOTS: usize = 16;

/// A connection's bounded send queue: any number of senders (channels, the
/// HTTP API, the cluster bus), one receiver (the connection's task).
///
/// Not `tokio::sync::mpsc`: that allocates a block of 32 slots (1.5 KiB
/// with our frames) and its channel state per connection up front, and
/// most connections are idle most of the time. This one holds memory only
/// while frames wait. A sender wakes the receiver only when the queue goes
/// from empty to not empty: the receiver drains it before it waits again.
#[derive(Debug)]
struct SendQueue {
    state: Mutex<QueueState>,
    ready: Notify,
    capacity: usize,
}

#[derive(Debug, Default)]
struct QueueState {
    frames: VecDeque<Outbound>,
    /// The receiver is gone: nothing more is accepted.
    closed: bool,
}

impl SendQueue {
    fn lock(&self) -> MutexGuard<'_, QueueState> {
        // A panic while holding the lock leaves a consistent queue.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Why a frame was not queued.
enum QueueError {
    Full,
    Closed,
}

/// The receiving end of a connection's send queue.
#[derive(Debug)]
pub struct Outbox {
    queue: Arc<SendQueue>,
}

impl Outbox {
    /// The next queued frame, waiting for one if there is none.
    pub async fn recv(&mut self) -> Outbound {
        loop {
            if let Some(frame) = self.try_recv() {
                return frame;
            }
            // A frame queued between `try_recv` and here leaves a permit in
            // `ready`, so this does not miss it.
            self.queue.ready.notified().await;
        }
    }

    /// The next queued frame, if there is one.
    pub fn try_recv(&mut self) -> Option<Outbound> {
        let mut state = self.queue.lock();
        let frame = state.frames.pop_front();
        if state.frames.is_empty() && state.frames.capacity() > KEEP_QUEUE_SLOTS {
            state.frames = VecDeque::new();
        }
        frame
    }
}

impl Drop for Outbox {
    fn drop(&mut self) {
        let mut state = self.queue.lock();
        state.closed = true;
        state.frames = VecDeque::new();
    }
}

/// One connection as seen from channels and the API: where to send its
/// frames and how to close it. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ConnHandle {
    /// The connection's socket id.
    pub socket_id: SocketId,
    /// Its bounded send queue. Fan-out never waits on it.
    queue: Arc<SendQueue>,
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
    ) -> (Self, Outbox, Arc<Closer>) {
        let queue = Arc::new(SendQueue {
            state: Mutex::default(),
            ready: Notify::new(),
            capacity: capacity.max(1),
        });
        let rx = Outbox {
            queue: queue.clone(),
        };
        let closer = Arc::new(Closer::default());
        (
            ConnHandle {
                socket_id,
                queue,
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
    pub fn send(&self, frame: Encoded) -> bool {
        let outbound = Outbound {
            frame,
            queued_at: Instant::now(),
        };
        match self.try_queue(outbound) {
            Ok(()) => true,
            Err(QueueError::Full) => {
                self.drops.fetch_add(1, Ordering::Relaxed);
                if !self.overflowed.swap(true, Ordering::Relaxed) {
                    tracing::info!(socket_id = %self.socket_id, "send queue full: disconnecting slow client");
                    self.closer
                        .close(4100, "Over capacity: the client does not read fast enough");
                }
                false
            }
            Err(QueueError::Closed) => false,
        }
    }

    fn try_queue(&self, outbound: Outbound) -> Result<(), QueueError> {
        let mut state = self.queue.lock();
        if state.closed {
            return Err(QueueError::Closed);
        }
        if state.frames.len() >= self.queue.capacity {
            return Err(QueueError::Full);
        }
        let was_empty = state.frames.is_empty();
        state.frames.push_back(outbound);
        drop(state);
        if was_empty {
            self.queue.ready.notify_one();
        }
        Ok(())
    }

    /// Orders the connection closed.
    pub fn close(&self, code: u16, reason: impl Into<String>) {
        self.closer.close(code, reason);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handle(capacity: usize) -> (ConnHandle, Outbox, Arc<Closer>) {
        ConnHandle::new(SocketId::generate(), capacity, Arc::new(AtomicU64::new(0)))
    }

    fn frame(n: usize) -> Encoded {
        Encoded::from_trusted(format!(r#"{{"event":"e","data":"{n}"}}"#))
    }

    fn data(outbound: &Outbound) -> String {
        let v: serde_json::Value = serde_json::from_str(outbound.frame.as_str()).unwrap();
        v["data"].as_str().unwrap().to_string()
    }

    #[test]
    fn frames_come_out_in_order() {
        let (conn, mut rx, _) = handle(8);
        for n in 0..5 {
            assert!(conn.send(frame(n)));
        }
        let got: Vec<_> = std::iter::from_fn(|| rx.try_recv())
            .map(|o| data(&o))
            .collect();
        assert_eq!(got, ["0", "1", "2", "3", "4"]);
        assert!(rx.try_recv().is_none());
    }

    #[test]
    fn a_full_queue_drops_the_frame_and_orders_a_4100_close_once() {
        let (conn, mut rx, closer) = handle(2);
        assert!(conn.send(frame(0)));
        assert!(conn.send(frame(1)));
        assert!(!conn.send(frame(2)));
        assert!(!conn.send(frame(3)));
        assert_eq!(conn.drops.load(Ordering::Relaxed), 2);
        let order = closer.order.lock().unwrap().clone().expect("a close order");
        assert_eq!(order.code, 4100);
        assert_eq!(data(&rx.try_recv().unwrap()), "0");
        assert_eq!(data(&rx.try_recv().unwrap()), "1");
        assert!(rx.try_recv().is_none());
    }

    #[test]
    fn nothing_is_queued_once_the_receiver_is_gone() {
        let (conn, rx, closer) = handle(4);
        assert!(conn.send(frame(0)));
        drop(rx);
        assert!(
            conn.queue.lock().frames.capacity() == 0,
            "queued frames are freed"
        );
        assert!(!conn.send(frame(1)));
        assert!(closer.order.lock().unwrap().is_none(), "not a slow client");
        assert_eq!(conn.drops.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn a_drained_backlog_gives_its_memory_back() {
        let (conn, mut rx, _) = handle(1000);
        for n in 0..200 {
            assert!(conn.send(frame(n)));
        }
        while rx.try_recv().is_some() {}
        assert_eq!(rx.queue.lock().frames.capacity(), 0);
        // A short queue keeps its few slots: no allocation per frame.
        assert!(conn.send(frame(0)));
        rx.try_recv().unwrap();
        let kept = rx.queue.lock().frames.capacity();
        assert!(kept > 0 && kept <= KEEP_QUEUE_SLOTS, "kept {kept}");
    }

    /// Sender and receiver on two threads: every frame arrives, in order,
    /// with no wake-up lost between an empty `try_recv` and the wait.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn recv_wakes_for_frames_sent_from_another_thread() {
        const FRAMES: usize = 5_000;
        let (conn, mut rx, _) = handle(FRAMES);
        let sender = tokio::spawn(async move {
            for n in 0..FRAMES {
                assert!(conn.send(frame(n)));
                if n % 3 == 0 {
                    tokio::task::yield_now().await;
                }
            }
            conn
        });
        for n in 0..FRAMES {
            let outbound = tokio::time::timeout(std::time::Duration::from_secs(10), rx.recv())
                .await
                .expect("a frame in time");
            assert_eq!(data(&outbound), n.to_string());
        }
        let _conn = sender.await.unwrap();
    }
}
