//! Import: a Zenoh key's messages sent into a local channel.
//!
//! Zenoh's callbacks deliver what arrives straight into the local ring, in
//! arrival order (no queue, no extra thread on the way). Delivery waits
//! while the local ring is full, so with `lossy` off the back-pressure goes
//! back through Zenoh (blocking congestion control) to the remote bridge
//! and its local sender.
//!
//! The bridge holds the local channel as its sender while an exporter is
//! alive: it creates the channel at start (if missing), so a local receiver
//! can open it before the remote side exists. When the last exporter's
//! stream ends, or its liveliness token goes (its bridge killed, the
//! network cut: Zenoh's lease), the bridge detaches, after everything that
//! arrived is in the ring, so the local receiver reads it all and then gets
//! `Disconnected`. A new exporter makes it attach again.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use memlink::channel::{ChannelOptions, Sender, TrySendError};
use memlink::Error;
use zenoh::sample::SampleKind;
use zenoh::{Session, Wait};

use crate::config::Resolved;
use crate::log;
use crate::tally::Tally;
use crate::wire::{self, Frame};

/// How often drops not yet logged are logged when nothing else happens.
const FLUSH_EVERY: Duration = Duration::from_secs(1);
/// How long one delivery attempt waits before it looks again.
const LOOK_AGAIN: Duration = Duration::from_millis(200);

/// Declares the route's subscribers; Zenoh's callbacks deliver. The local
/// channel is created (or opened) before this returns. The thread returned
/// keeps the subscribers and logs pending drop counts once a second.
pub(crate) fn start(session: &Session, route: Resolved) -> Result<JoinHandle<()>, String> {
    let name = route.route.channel.clone();
    let sender = attach(&route).map_err(|e| format!("import {name:?}: {e}"))?;
    // One lock for the route: samples and liveliness news from Zenoh's
    // threads, in the order each link delivers them. A sample waiting for
    // room in the local ring holds it: that wait is the back-pressure.
    let import = Arc::new(Mutex::new(Import::new(route.clone(), sender)));
    let samples = Arc::clone(&import);
    let subscriber = session
        .declare_subscriber(route.key.clone())
        .callback(move |sample| lock(&samples).sample(&sample.payload().to_bytes()))
        .wait()
        .map_err(|e| format!("import {name:?}: subscriber on {}: {e}", route.key))?;
    let tokens = format!("{}/@memlink/src/*", route.key);
    let news = Arc::clone(&import);
    let liveliness = session
        .liveliness()
        .declare_subscriber(tokens)
        .history(true)
        .callback(move |sample| token_event(&news, sample.key_expr().as_str(), sample.kind()))
        .wait()
        .map_err(|e| format!("import {name:?}: liveliness subscriber: {e}"))?;
    log(format_args!("import {} -> {name}: ready", route.key));
    std::thread::Builder::new()
        .name(format!("import {name}"))
        .spawn(move || {
            let _keep = (subscriber, liveliness);
            loop {
                // A timer, not a synchronisation: drops counted since the
                // last line reach the log within a second.
                std::thread::sleep(FLUSH_EVERY);
                lock(&import).flush();
            }
        })
        .map_err(|e| format!("import thread: {e}"))
}

fn lock(import: &Mutex<Import>) -> std::sync::MutexGuard<'_, Import> {
    import.lock().unwrap_or_else(|p| p.into_inner())
}

fn token_event(import: &Mutex<Import>, key: &str, kind: SampleKind) {
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
    let mut import = lock(import);
    match kind {
        SampleKind::Put => {
            import.live.insert(stream);
            import.ensure_attached();
        }
        SampleKind::Delete => import.ended(stream, "its bridge is gone"),
    }
}

/// Creates the local channel, or opens it when it exists.
fn attach(route: &Resolved) -> Result<Sender, Error> {
    let r = &route.route;
    let mut options = ChannelOptions::new();
    // Parked, not spinning, while the ring is full: the bridge's threads
    // are woken by the network anyway, and a spinning one takes CPU from
    // Zenoh's own (the bench: ~1.5x lower latency than spin-then-park on
    // two busy vCPUs, the same msg/s).
    options.wait(memlink::channel::WaitStrategy::Park);
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
