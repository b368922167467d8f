//! Import: a Zenoh key's messages sent into a local channel.
//!
//! Zenoh's callbacks only queue what arrives (a bounded queue, in arrival
//! order); one thread per route delivers it. Delivery waits while the local
//! ring is full, so with `lossy` off the back-pressure goes back through
//! Zenoh (blocking congestion control) to the remote bridge and its local
//! sender.
//!
//! The bridge holds the local channel as its sender while an exporter is
//! alive: it creates the channel at start (if missing), so a local receiver
//! can open it before the remote side exists. When the last exporter's
//! stream ends, or its liveliness token goes (its bridge killed, the
//! network cut: Zenoh's lease), the bridge detaches, after everything that
//! arrived is in the ring, so the local receiver reads it all and then gets
//! `Disconnected`. A new exporter makes it attach again.

use std::collections::{HashMap, HashSet};
use std::sync::mpsc::{sync_channel, Receiver as Queue, RecvTimeoutError, SyncSender};
use std::thread::JoinHandle;
use std::time::Duration;

use memlink::channel::{ChannelOptions, Sender, TrySendError};
use memlink::Error;
use zenoh::bytes::ZBytes;
use zenoh::sample::SampleKind;
use zenoh::{Session, Wait};

use crate::config::Resolved;
use crate::log;
use crate::tally::Tally;
use crate::wire::{self, Frame};

/// Samples queued between Zenoh and the delivering thread.
const QUEUE: usize = 1024;
/// How long one delivery attempt waits before it looks again.
const LOOK_AGAIN: Duration = Duration::from_millis(200);

enum Event {
    Sample(ZBytes),
    Up(u32),
    Down(u32),
}

/// Declares the route's subscribers and starts its thread. The local
/// channel is created (or opened) before this returns.
pub(crate) fn start(session: &Session, route: Resolved) -> Result<JoinHandle<()>, String> {
    let name = route.route.channel.clone();
    let sender = attach(&route).map_err(|e| format!("import {name:?}: {e}"))?;
    let (tx, queue) = sync_channel(QUEUE);
    let samples = tx.clone();
    let subscriber = session
        .declare_subscriber(route.key.clone())
        .callback(move |sample| {
            // Blocks while the queue is full: that is the back-pressure.
            let _ = samples.send(Event::Sample(sample.payload().clone()));
        })
        .wait()
        .map_err(|e| format!("import {name:?}: subscriber on {}: {e}", route.key))?;
    let tokens = format!("{}/@memlink/src/*", route.key);
    let liveliness = session
        .liveliness()
        .declare_subscriber(tokens)
        .history(true)
        .callback(move |sample| token_event(&tx, sample.key_expr().as_str(), sample.kind()))
        .wait()
        .map_err(|e| format!("import {name:?}: liveliness subscriber: {e}"))?;
    log(format_args!("import {} -> {name}: ready", route.key));
    std::thread::Builder::new()
        .name(format!("import {name}"))
        .spawn(move || {
            let _keep = (subscriber, liveliness);
            Import::new(route, sender).run(queue)
        })
        .map_err(|e| format!("import thread: {e}"))
}

fn token_event(tx: &SyncSender<Event>, key: &str, kind: SampleKind) {
    let Some(stream) = key
        .rsplit('/')
        .next()
        .and_then(|id| u32::from_str_radix(id, 16).ok())
    else {
        log(format_args!(
            "ignoring a liveliness token that is not ours: {key}"
        ));
        return;
    };
    let _ = tx.send(match kind {
        SampleKind::Put => Event::Up(stream),
        SampleKind::Delete => Event::Down(stream),
    });
}

/// Creates the local channel, or opens it when it exists.
fn attach(route: &Resolved) -> Result<Sender, Error> {
    let r = &route.route;
    let mut options = ChannelOptions::new();
    options
        .kind(r.kind.into())
        .capacity(r.capacity)
        .max_message(r.max_message)
        .lossy(r.lossy && r.kind == crate::config::ChannelKind::Broadcast);
    loop {
        match options.create_sender(&r.channel) {
            Err(Error::AlreadyExists { .. }) => match options.open_sender(&r.channel) {
                // Gone between the two calls: create it again.
                Err(Error::NotFound { .. }) => continue,
                other => return other,
            },
            other => return other,
        }
    }
}

struct Import {
    route: Resolved,
    sender: Option<Sender>,
    live: HashSet<u32>,
    /// The next sequence number expected of each stream seen.
    next: HashMap<u32, u64>,
    garbage: Tally,
    lost: Tally,
    stale: Tally,
    full: Tally,
    too_large: Tally,
    failed: Tally,
}

impl Import {
    fn new(route: Resolved, sender: Sender) -> Import {
        let name = route.route.channel.clone();
        let tally = |why: &str| Tally::new(format!("import {name}: {why}"));
        Import {
            garbage: tally("samples that are not memlink messages"),
            lost: tally("messages lost before they reached this bridge"),
            stale: tally("repeated or stale messages"),
            full: tally("lossy: local ring full"),
            too_large: tally("messages larger than the local channel allows"),
            failed: tally("messages the local channel refused"),
            route,
            sender: Some(sender),
            live: HashSet::new(),
            next: HashMap::new(),
        }
    }

    fn run(mut self, queue: Queue<Event>) {
        loop {
            match queue.recv_timeout(Duration::from_secs(1)) {
                Ok(Event::Sample(bytes)) => self.sample(&bytes.to_bytes()),
                Ok(Event::Up(stream)) => {
                    self.live.insert(stream);
                    self.ensure_attached();
                }
                Ok(Event::Down(stream)) => self.ended(stream, "its bridge is gone"),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
            self.flush();
        }
    }

    /// Logs every drop not yet logged.
    fn flush(&mut self) {
        for t in [
            &mut self.garbage,
            &mut self.lost,
            &mut self.stale,
            &mut self.full,
            &mut self.too_large,
            &mut self.failed,
        ] {
            t.flush();
        }
    }

    fn ensure_attached(&mut self) {
        if self.sender.is_some() {
            return;
        }
        match attach(&self.route) {
            Ok(sender) => {
                log(format_args!(
                    "import {}: a remote sender is back",
                    self.route.route.channel
                ));
                self.sender = Some(sender);
            }
            Err(e) => log(format_args!("import {}: {e}", self.route.route.channel)),
        }
    }

    /// Stream `stream` is over: when it was the last one, detach so the
    /// local receiver gets `Disconnected` after what it has.
    fn ended(&mut self, stream: u32, why: &str) {
        if self.live.remove(&stream) && self.live.is_empty() && self.sender.take().is_some() {
            // Every drop of the stream is in the log before its end is.
            self.flush();
            log(format_args!(
                "import {}: stream {stream:08x} ended ({why}); local receivers are told",
                self.route.route.channel
            ));
        }
    }

    fn sample(&mut self, bytes: &[u8]) {
        let frame = match wire::decode(bytes) {
            Ok(frame) => frame,
            Err(why) => return self.garbage.add(1, why),
        };
        let (stream, seq) = match frame {
            Frame::Message { stream, seq, .. } | Frame::End { stream, seq } => (stream, seq),
        };
        let expected = self.next.get(&stream).copied();
        match expected {
            Some(n) if seq < n => {
                return self
                    .stale
                    .add(1, format!("stream {stream:08x}: {seq} after {n}"));
            }
            Some(n) if seq > n => self.lost.add(
                seq - n,
                format!("stream {stream:08x}: expected {n}, got {seq}"),
            ),
            _ => {}
        }
        match frame {
            Frame::End { .. } => {
                self.next.insert(stream, seq);
                self.ended(stream, "its local sender left");
            }
            Frame::Message { payload, .. } => {
                self.next.insert(stream, seq + 1);
                self.live.insert(stream);
                self.ensure_attached();
                self.deliver(payload);
            }
        }
    }

    fn deliver(&mut self, payload: &[u8]) {
        let lossy = self.route.route.lossy;
        let Some(sender) = self.sender.as_mut() else {
            return self
                .failed
                .add(1, "the local channel could not be attached");
        };
        if payload.len() > sender.max_message() {
            return self.too_large.add(
                1,
                format!(
                    "{} bytes, the channel allows {}",
                    payload.len(),
                    sender.max_message()
                ),
            );
        }
        if lossy {
            match sender.try_send(payload) {
                Ok(()) => {}
                Err(TrySendError::Full) => self.full.add(1, "the local receivers are behind"),
                Err(TrySendError::Disconnected) => {
                    self.full.add(1, "no local receiver is attached")
                }
                Err(TrySendError::Failed(e)) => self.failed.add(1, e.to_string()),
            }
            return;
        }
        let mut said = false;
        loop {
            match sender.send_timeout(payload, LOOK_AGAIN) {
                Ok(()) => return,
                Err(Error::Timeout { .. }) => {}
                Err(Error::Disconnected { .. }) => {
                    // The local receiver left: keep the message (and so the
                    // remote sender waiting) until another one attaches.
                    if !said {
                        log(format_args!(
                            "import {}: the local receiver left; waiting for another",
                            self.route.route.channel
                        ));
                        said = true;
                    }
                    let _ = sender.wait_for_receiver(LOOK_AGAIN);
                }
                Err(e) => return self.failed.add(1, e.to_string()),
            }
        }
    }
}
