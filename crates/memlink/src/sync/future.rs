//! [`NamedEvent::wait_async`]: waiting for an event without blocking a
//! thread, woken by the crate's reactor (see `reactor.rs`).
//!
//! A poll takes the signal if the event is set (no system call). Otherwise
//! the future registers as one of the event's waiters (so `set` and
//! `notify_*` wake it as they wake a blocked [`Event::wait`]), looks once
//! more, and hands the state word, with the value it registered under, to
//! the reactor. When woken it takes what released it. Dropping a pending
//! future unregisters it and takes nothing: an auto-reset signal that came
//! meanwhile stays for the next waiter.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use super::event::Registration;
use super::NamedEvent;
use crate::error::{Error, Result};
use crate::layout::{Anchored, Event, NamedEventLayout};
use crate::reactor::{self, Watch};

/// A named event's state word, kept alive for the reactor.
struct EventWatch(Arc<Anchored<NamedEventLayout>>);

impl Watch for EventWatch {
    fn word(&self) -> &AtomicU32 {
        self.0.event.word()
    }
}

/// The future of [`NamedEvent::wait_async`]: ready when the event releases
/// this waiter, as [`Event::wait`] would.
#[must_use = "futures do nothing unless polled"]
pub struct WaitFuture<'a> {
    event: &'a NamedEvent,
    armed: Option<(Registration, reactor::Id)>,
}

impl std::fmt::Debug for WaitFuture<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WaitFuture")
            .field("event", &self.event.name().to_string())
            .field("pending", &self.armed.is_some())
            .finish()
    }
}

impl WaitFuture<'_> {
    fn event(&self) -> &Event {
        self.event
    }
}

impl Future for WaitFuture<'_> {
    type Output = Result<()>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let this = self.get_mut();
        if let Some((registration, id)) = this.armed.take() {
            // Acquire: pairs with the Release RMWs of `set` / `notify_*`.
            let unmoved = this.event().word().load(Ordering::Acquire) == registration.word;
            if unmoved && reactor::update(id, cx.waker()) {
                this.armed = Some((registration, id));
                return Poll::Pending;
            }
            reactor::cancel(id);
            if this.event().leave(registration, true) {
                return Poll::Ready(Ok(()));
            }
        }
        // A zero timeout takes a signal that is there, without a system
        // call, and never sleeps.
        if this.event().wait_timeout(Duration::ZERO) {
            return Poll::Ready(Ok(()));
        }
        let registration = this.event().enter();
        // Set between the look above and registering: the word we would
        // sleep on already holds the signal.
        if this.event().is_set() && this.event().leave(registration, true) {
            return Poll::Ready(Ok(()));
        }
        let registration = if this.event().is_set() {
            // Another waiter took it and the event is set again: register
            // afresh under the current word.
            this.event().enter()
        } else {
            registration
        };
        let watch = Arc::new(EventWatch(Arc::clone(this.event.shared())));
        match reactor::register(watch, registration.word, cx.waker().clone()) {
            Ok(id) => {
                this.armed = Some((registration, id));
                Poll::Pending
            }
            Err(source) => {
                this.event().leave(registration, false);
                Poll::Ready(Err(Error::Os {
                    operation: "wait asynchronously on",
                    name: this.event.name().to_string(),
                    source,
                }))
            }
        }
    }
}

impl Drop for WaitFuture<'_> {
    fn drop(&mut self) {
        if let Some((registration, id)) = self.armed.take() {
            reactor::cancel(id);
            self.event().leave(registration, false);
        }
    }
}

impl NamedEvent {
    /// Waits until the event releases this waiter, without blocking a
    /// thread: a future for any executor, woken by memlink's reactor
    /// thread when the event is set or notified (from any process). Ready
    /// at once when the event is set, taking the signal of an auto-reset
    /// event as [`Event::wait`] does. Dropping the future before it is
    /// ready takes nothing. Fails only if the reactor thread cannot start.
    ///
    /// ```
    /// use memlink::{EventKind, NamedEvent};
    /// # let name = format!("doc-wait-async-{}", std::process::id());
    /// let event = NamedEvent::create(&name, EventKind::AutoReset)?;
    /// event.set();
    /// block_on(event.wait_async())?;
    /// assert!(!event.is_set());
    /// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     let mut f = std::pin::pin!(f);
    /// #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    /// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
    /// # }
    /// # Ok::<(), memlink::Error>(())
    /// ```
    pub fn wait_async(&self) -> WaitFuture<'_> {
        WaitFuture {
            event: self,
            armed: None,
        }
    }
}
