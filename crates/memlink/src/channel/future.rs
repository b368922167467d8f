//! Async receive and send: [`Receiver::recv_async`] and
//! [`Sender::send_async`], futures for any executor, woken by the crate's
//! reactor thread (see `reactor.rs`) and never by polling.
//!
//! Each poll tries the non-blocking call (`try_recv` / `try_send`); when
//! that would wait, the future counts itself parked on the channel's wake
//! line, exactly as a blocked call does, so every publication (or release
//! of space) that would wake a blocked call bumps the line's word; it reads
//! the word, tries once more, and hands the word to the reactor. While the
//! peer keeps up, a future is ready at its first poll without a system
//! call.
//!
//! Cancellation-safe: a message is taken or sent only inside a single poll,
//! whole, so dropping a pending future loses nothing (the next receive gets
//! the message the dropped one would have).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{fence, AtomicU32, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use super::layout::WakeLine;
use super::shared::Channel;
use super::{Receiver, Sender, TryRecvError, TrySendError};
use crate::error::{Error, Result};
use crate::reactor::{self, Watch};

/// Which line of a channel a future waits on.
#[derive(Clone, Copy)]
enum Side {
    /// Receivers wait for data.
    Data,
    /// Senders wait for space.
    Space,
}

/// A channel's wake line, kept alive for the reactor.
struct LineWatch {
    channel: Arc<Channel>,
    side: Side,
    /// The slots of the peers that move this line.
    peers: (u32, u32),
}

impl LineWatch {
    fn line(&self) -> &WakeLine {
        let control = self.channel.control();
        match self.side {
            Side::Data => &control.data,
            Side::Space => &control.space,
        }
    }
}

impl Watch for LineWatch {
    fn word(&self) -> &AtomicU32 {
        &self.line().futex
    }

    fn peers_lost(&self) -> bool {
        // Acquire: pairs with the attaching peer's Release store.
        self.line().peer_ever_attached.load(Ordering::Acquire) != 0
            && !self.channel.any_alive(self.peers.0, self.peers.1)
    }
}

/// A future's standing with the reactor: parked on its line, registered.
struct Armed {
    watch: Arc<LineWatch>,
    id: reactor::Id,
    seen: u32,
}

/// The waiting half shared by both futures.
#[derive(Default)]
struct Parking {
    armed: Option<Armed>,
}

impl Parking {
    /// Whether nothing can have changed since the future armed: still
    /// registered (now with this waker) and the word unmoved. Then there
    /// is no need to try again.
    fn unchanged(&self, cx: &Context<'_>) -> bool {
        self.armed.as_ref().is_some_and(|armed| {
            armed.watch.word().load(Ordering::Acquire) == armed.seen
                && reactor::update(armed.id, cx.waker())
        })
    }

    /// Leaves the line and the reactor.
    fn disarm(&mut self) {
        if let Some(armed) = self.armed.take() {
            reactor::cancel(armed.id);
            armed.watch.line().parked.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// Parks on `watch`'s line, tries once more with `attempt`, and
    /// registers with the reactor unless that try settled it.
    fn arm<T>(
        &mut self,
        watch: LineWatch,
        cx: &Context<'_>,
        attempt: impl FnOnce() -> Option<Result<T>>,
    ) -> Poll<Result<T>> {
        let watch = Arc::new(watch);
        let line = watch.line();
        // SeqCst pairs with the wakers' SeqCst publish and `parked` load
        // (see `WakeLine`): either the waker sees us parked and bumps the
        // word, or the try below sees its publication. The fence orders the
        // count before the loads, as in `Waiter::park_unless`.
        line.parked.fetch_add(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        let seen = line.futex.load(Ordering::Acquire);
        if let Some(done) = attempt() {
            line.parked.fetch_sub(1, Ordering::SeqCst);
            return Poll::Ready(done);
        }
        match reactor::register(watch.clone(), seen, cx.waker().clone()) {
            Ok(id) => {
                self.armed = Some(Armed { watch, id, seen });
                Poll::Pending
            }
            Err(source) => {
                watch.line().parked.fetch_sub(1, Ordering::SeqCst);
                Poll::Ready(Err(Error::Os {
                    operation: "wait asynchronously on",
                    name: watch.channel.name().to_owned(),
                    source,
                }))
            }
        }
    }
}

impl Drop for Parking {
    fn drop(&mut self) {
        self.disarm();
    }
}

/// What a future tries on each poll, and the line it waits on.
trait Attempt {
    type Output;
    /// The non-blocking call: `None` when it would wait.
    fn attempt(&mut self) -> Option<Result<Self::Output>>;
    /// The line whose word moves when trying again may succeed.
    fn watch(&self) -> LineWatch;
}

/// One poll of either future: try; if that would wait, arm and try once
/// more (see the module docs).
fn poll_attempt<A: Attempt>(
    io: &mut A,
    parking: &mut Parking,
    cx: &Context<'_>,
) -> Poll<Result<A::Output>> {
    if parking.unchanged(cx) {
        return Poll::Pending;
    }
    parking.disarm();
    if let Some(done) = io.attempt() {
        return Poll::Ready(done);
    }
    let watch = io.watch();
    parking.arm(watch, cx, || io.attempt())
}

struct Receiving<'a> {
    rx: &'a mut Receiver,
    buf: Vec<u8>,
}

impl Attempt for Receiving<'_> {
    type Output = Vec<u8>;

    fn attempt(&mut self) -> Option<Result<Vec<u8>>> {
        match self.rx.try_recv(&mut self.buf) {
            Ok(_) => Some(Ok(std::mem::take(&mut self.buf))),
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Disconnected) => Some(Err(Error::Disconnected {
                name: self.rx.name().to_owned(),
                peer: "sender",
            })),
            Err(TryRecvError::Failed(e)) => Some(Err(e)),
        }
    }

    fn watch(&self) -> LineWatch {
        let channel = Arc::clone(self.rx.shared());
        let peers = (0, channel.geometry().max_senders);
        LineWatch {
            channel,
            side: Side::Data,
            peers,
        }
    }
}

struct Sending<'a> {
    tx: &'a mut Sender,
    message: &'a [u8],
}

impl Attempt for Sending<'_> {
    type Output = ();

    fn attempt(&mut self) -> Option<Result<()>> {
        match self.tx.try_send(self.message) {
            Ok(()) => Some(Ok(())),
            Err(TrySendError::Full) => None,
            Err(TrySendError::Disconnected) => Some(Err(Error::Disconnected {
                name: self.tx.name().to_owned(),
                peer: "receiver",
            })),
            Err(TrySendError::Failed(e)) => Some(Err(e)),
        }
    }

    fn watch(&self) -> LineWatch {
        let channel = Arc::clone(self.tx.shared());
        let g = *channel.geometry();
        LineWatch {
            channel,
            side: Side::Space,
            peers: (g.max_senders, g.max_receivers),
        }
    }
}

/// The future of [`Receiver::recv_async`]: the next message, or why there
/// is none (`Disconnected` once every sender is gone and everything they
/// sent was received).
#[must_use = "futures do nothing unless polled"]
pub struct RecvFuture<'a> {
    io: Receiving<'a>,
    parking: Parking,
}

impl std::fmt::Debug for RecvFuture<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecvFuture")
            .field("channel", &self.io.rx.name())
            .field("pending", &self.parking.armed.is_some())
            .finish()
    }
}

impl Future for RecvFuture<'_> {
    type Output = Result<Vec<u8>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        poll_attempt(&mut this.io, &mut this.parking, cx)
    }
}

/// The future of [`Sender::send_async`]: done when the message is in the
/// ring, or why it cannot be (`Disconnected` once the receivers are gone,
/// a message too large, ...).
#[must_use = "futures do nothing unless polled"]
pub struct SendFuture<'a> {
    io: Sending<'a>,
    parking: Parking,
}

impl std::fmt::Debug for SendFuture<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SendFuture")
            .field("channel", &self.io.tx.name())
            .field("len", &self.io.message.len())
            .field("pending", &self.parking.armed.is_some())
            .finish()
    }
}

impl Future for SendFuture<'_> {
    type Output = Result<()>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        poll_attempt(&mut this.io, &mut this.parking, cx)
    }
}

impl Receiver {
    /// Receives the next message without blocking a thread: a future for
    /// any executor (tokio, async-std, `futures::executor`, ...), woken by
    /// memlink's reactor thread when a sender publishes. Ready at once,
    /// without a system call, when a message is waiting. Dropping the
    /// future before it is ready loses no message. A sender killed with
    /// `kill -9` is noticed within about 40 ms.
    ///
    /// ```
    /// use memlink::channel::{ChannelOptions, Receiver};
    /// # let name = format!("doc-recv-async-{}", std::process::id());
    /// let mut tx = ChannelOptions::new().create_sender(&name)?;
    /// let mut rx = Receiver::open(&name)?;
    /// tx.send(b"hello")?;
    /// let message = futures_executor_block_on(rx.recv_async())?;
    /// assert_eq!(message, b"hello");
    /// # fn futures_executor_block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     let mut f = std::pin::pin!(f);
    /// #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    /// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
    /// # }
    /// # Ok::<(), memlink::Error>(())
    /// ```
    pub fn recv_async(&mut self) -> RecvFuture<'_> {
        RecvFuture {
            io: Receiving {
                rx: self,
                buf: Vec::new(),
            },
            parking: Parking::default(),
        }
    }
}

impl Sender {
    /// Sends `message` without blocking a thread, once there is room: a
    /// future for any executor, woken by memlink's reactor thread when a
    /// receiver frees space. Ready at once, without a system call, when
    /// the message fits. Dropping the future before it is ready sends
    /// nothing (never part of a message).
    ///
    /// ```
    /// use memlink::channel::{ChannelOptions, Receiver};
    /// # let name = format!("doc-send-async-{}", std::process::id());
    /// let mut tx = ChannelOptions::new().create_sender(&name)?;
    /// let mut rx = Receiver::open(&name)?;
    /// block_on(tx.send_async(b"hello"))?;
    /// assert_eq!(rx.recv()?, b"hello");
    /// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     let mut f = std::pin::pin!(f);
    /// #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    /// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
    /// # }
    /// # Ok::<(), memlink::Error>(())
    /// ```
    pub fn send_async<'a>(&'a mut self, message: &'a [u8]) -> SendFuture<'a> {
        SendFuture {
            io: Sending { tx: self, message },
            parking: Parking::default(),
        }
    }
}
