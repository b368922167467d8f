//! Export: a local channel's messages published on its Zenoh key.
//!
//! The bridge attaches to the channel as a receiver (so it waits for the
//! channel to exist) and reads only while some subscriber matches the key:
//! with nobody importing, the local ring fills and the local sender waits,
//! as it would for a slow local receiver. Each time it opens the channel it
//! starts a new stream (see [`crate::wire`]) and declares the liveliness
//! token `KEY/@memlink/src/STREAM`; when the local sender leaves (or is
//! killed) it publishes the stream's end once everything was read, and
//! undeclares the token when the next stream opens. When this bridge dies,
//! Zenoh removes the token.
//!
//! While nobody imports, the bridge does not read, but it asks every
//! [`LOOK_AGAIN`] whether the channel's senders are alive. Once all that
//! were attached have gone (closed, or killed), it takes what is left in
//! the ring (at most one ring's worth) into memory and lets go of the
//! channel, so a restarted local server can create it again. The messages
//! it kept are published, then the stream's end, when a bridge imports;
//! if the channel is created again first, the new stream supersedes them
//! and they are dropped (logged with their number).

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use memlink::channel::{ChannelOptions, Receiver, TryRecvError};
use memlink::Error;
use zenoh::pubsub::Publisher;
use zenoh::qos::CongestionControl;
use zenoh::{Session, Wait};

use crate::config::Resolved;
use crate::tally::Tally;
use crate::{log, wire};

/// How long a read waits before the bridge looks again at its importers.
const LOOK_AGAIN: Duration = Duration::from_millis(100);
/// How often to look for a channel that does not exist yet (no OS tells a
/// process that a name appeared).
const RETRY_OPEN: Duration = Duration::from_millis(50);

/// Whether some subscriber matches our key, kept current by Zenoh.
struct Matching {
    /// The route's channel and key, for the log.
    what: String,
    now: Mutex<bool>,
    changed: Condvar,
}

impl Matching {
    fn set(&self, matching: bool) {
        let mut now = self.now.lock().unwrap_or_else(|p| p.into_inner());
        if *now != matching {
            let news = if matching {
                "a bridge imports it; reading"
            } else {
                "no bridge imports it; not reading"
            };
            log(format_args!("export {}: {news}", self.what));
        }
        *now = matching;
        self.changed.notify_all();
    }

    /// Waits at most `timeout` for a match; says whether there is one.
    fn wait(&self, timeout: Duration) -> bool {
        let now = self.now.lock().unwrap_or_else(|p| p.into_inner());
        let (now, _) = self
            .changed
            .wait_timeout_while(now, timeout, |m| !*m)
            .unwrap_or_else(|p| p.into_inner());
        *now
    }
}

/// Declares the route's publisher and starts its thread.
pub(crate) fn start(session: &Session, route: Resolved) -> Result<JoinHandle<()>, String> {
    let congestion = if route.route.lossy {
        CongestionControl::Drop
    } else {
        CongestionControl::Block
    };
    let publisher = session
        .declare_publisher(route.key.clone())
        .congestion_control(congestion)
        .wait()
        .map_err(|e| {
            format!(
                "export {:?}: publisher on {}: {e}",
                route.route.channel, route.key
            )
        })?;
    let matching = Arc::new(Matching {
        what: format!("{} -> {}", route.route.channel, route.key),
        now: Mutex::new(false),
        changed: Condvar::new(),
    });
    let listener = Arc::clone(&matching);
    publisher
        .matching_listener()
        .callback(move |status| listener.set(status.matching()))
        .background()
        .wait()
        .map_err(|e| format!("export {:?}: matching listener: {e}", route.route.channel))?;
    let now = publisher
        .matching_status()
        .wait()
        .map_err(|e| format!("export {:?}: matching status: {e}", route.route.channel))?;
    matching.set(now.matching());
    let session = session.clone();
    std::thread::Builder::new()
        .name(format!("export {}", route.route.channel))
        .spawn(move || Export::new(session, publisher, matching, route).run())
        .map_err(|e| format!("export thread: {e}"))
}

/// One open stream: the local receiver and what the remote side was told.
struct Stream {
    rx: Receiver,
    id: u32,
    seq: u64,
    token: zenoh::liveliness::LivelinessToken,
}

/// A stream whose local sender left while nobody imported: what its ring
/// still held, taken out so the channel could go, not published yet.
struct Held {
    id: u32,
    /// The sequence number of the first message in `messages`.
    seq: u64,
    messages: VecDeque<Vec<u8>>,
}

struct Export {
    session: Session,
    publisher: Publisher<'static>,
    matching: Arc<Matching>,
    route: Resolved,
    missed: Tally,
    failed: Tally,
    said_waiting: bool,
    /// The token of the stream that ended last, kept until the next one
    /// opens: Zenoh may deliver an undeclaration ahead of queued data (seen
    /// in the tests), so dropping it at the end could tell the importer
    /// "gone" before the last messages and the end reach it. The end
    /// sample says it, in order.
    ended: Option<zenoh::liveliness::LivelinessToken>,
    /// The ended stream not yet published (its token is `ended`).
    held: Option<Held>,
}

impl Export {
    fn new(
        session: Session,
        publisher: Publisher<'static>,
        matching: Arc<Matching>,
        route: Resolved,
    ) -> Export {
        let name = &route.route.channel;
        Export {
            missed: Tally::new(format!("export {name}: lossy local ring skipped")),
            failed: Tally::new(format!("export {name}: Zenoh refused")),
            session,
            publisher,
            matching,
            route,
            said_waiting: false,
            ended: None,
            held: None,
        }
    }

    fn run(mut self) {
        let mut stream = None;
        loop {
            let Some(s) = stream.as_mut() else {
                self.publish_held();
                stream = self.open();
                if stream.is_none() {
                    std::thread::sleep(RETRY_OPEN);
                }
                continue;
            };
            if !self.matching.wait(LOOK_AGAIN) {
                // Nobody to read for: leave the messages in the ring (the
                // back-pressure), but notice the local senders leaving.
                if let Some(first) = senders_gone(&mut s.rx) {
                    if let Some(s) = stream.take() {
                        self.hold(s, first);
                    }
                }
                continue;
            }
            match self.forward(s) {
                Ok(()) => {}
                Err(Error::Timeout { .. }) => {}
                Err(Error::Disconnected { .. }) => {
                    self.put(wire::end(s.id, s.seq).to_vec());
                    log(format_args!(
                        "export {}: local sender left; stream {:08x} ended after {} messages",
                        self.route.route.channel, s.id, s.seq
                    ));
                    self.ended = stream.take().map(|s| s.token);
                }
                Err(e) => {
                    log(format_args!(
                        "export {}: {e}; reopening the channel",
                        self.route.route.channel
                    ));
                    stream = None;
                }
            }
            if let Some(s) = stream.as_mut() {
                self.missed
                    .add(s.rx.take_missed(), "the local sender overwrote them");
            }
        }
    }

    fn open(&mut self) -> Option<Stream> {
        let name = self.route.route.channel.clone();
        // Parked, not spinning, between messages (see import.rs: `attach`).
        let mut options = ChannelOptions::new();
        options.wait(memlink::channel::WaitStrategy::Park);
        match options.open_receiver(&name) {
            Ok(rx) => {
                self.publish_held();
                if let Some(h) = self.held.take() {
                    if !h.messages.is_empty() {
                        log(format_args!(
                            "export {name}: the channel was created again before any bridge \
                             imported; the {} messages kept of stream {:08x} are dropped",
                            h.messages.len(),
                            h.id
                        ));
                    }
                    self.put(wire::end(h.id, h.seq).to_vec());
                }
                let id = random_stream();
                let key = format!("{}/@memlink/src/{id:08x}", self.route.key);
                let token = match self.session.liveliness().declare_token(key).wait() {
                    Ok(token) => token,
                    Err(e) => {
                        log(format_args!("export {name}: liveliness token: {e}"));
                        return None;
                    }
                };
                log(format_args!(
                    "export {name} -> {}: stream {id:08x} open",
                    self.route.key
                ));
                self.said_waiting = false;
                self.ended = None;
                Some(Stream {
                    rx,
                    id,
                    seq: 0,
                    token,
                })
            }
            Err(e) => {
                if !self.said_waiting {
                    log(format_args!("export {name}: {e}; waiting for it"));
                    self.said_waiting = true;
                }
                None
            }
        }
    }

    /// Reads one message (waiting at most [`LOOK_AGAIN`]) and publishes it.
    fn forward(&mut self, s: &mut Stream) -> Result<(), Error> {
        let message = s.rx.recv_borrow_timeout(LOOK_AGAIN)?;
        let mut sample = vec![0u8; wire::HEADER + message.len()];
        sample[..wire::HEADER].copy_from_slice(&wire::message_header(s.id, s.seq));
        message.read_at(0, &mut sample[wire::HEADER..])?;
        drop(message);
        s.seq += 1;
        self.put(sample);
        Ok(())
    }

    /// The local senders of `s` left while nobody imported: takes what its
    /// ring holds (it cannot grow any more) and lets go of the channel.
    fn hold(&mut self, mut s: Stream, first: Option<Vec<u8>>) {
        let mut messages: VecDeque<Vec<u8>> = first.into_iter().collect();
        let mut buf = Vec::new();
        let why = loop {
            match s.rx.try_recv(&mut buf) {
                Ok(_) => messages.push_back(std::mem::take(&mut buf)),
                Err(TryRecvError::Disconnected) => break None,
                // Everything was read and a sender attached again after
                // all: it gets a stream of its own (the next `open`).
                Err(TryRecvError::Empty) => break None,
                Err(e) => break Some(e),
            }
        };
        self.missed
            .add(s.rx.take_missed(), "the local sender overwrote them");
        let name = &self.route.route.channel;
        if let Some(e) = why {
            log(format_args!(
                "export {name}: {e} while taking what was left"
            ));
        }
        log(format_args!(
            "export {name}: local sender left while no bridge imports; stream {:08x} \
             ended after {} messages, {} of them kept until one does; the channel is let go",
            s.id,
            s.seq + messages.len() as u64,
            messages.len()
        ));
        self.held = Some(Held {
            id: s.id,
            seq: s.seq,
            messages,
        });
        self.ended = Some(s.token);
    }

    /// Publishes the held messages and their stream's end while some
    /// bridge imports.
    fn publish_held(&mut self) {
        let Some(mut h) = self.held.take() else {
            return;
        };
        while self.matching.wait(Duration::ZERO) {
            let Some(message) = h.messages.pop_front() else {
                self.put(wire::end(h.id, h.seq).to_vec());
                log(format_args!(
                    "export {}: the kept messages of stream {:08x} are published; it ended \
                     after {}",
                    self.route.route.channel, h.id, h.seq
                ));
                return;
            };
            let mut sample = Vec::with_capacity(wire::HEADER + message.len());
            sample.extend_from_slice(&wire::message_header(h.id, h.seq));
            sample.extend_from_slice(&message);
            h.seq += 1;
            self.put(sample);
        }
        self.held = Some(h);
    }

    fn put(&mut self, sample: Vec<u8>) {
        if let Err(e) = self.publisher.put(sample).wait() {
            self.failed.add(1, e.to_string());
        }
    }
}

/// Whether the senders that were attached to `rx` have all gone (closed or
/// killed): none is attached now (asks the kernel), and a receive that does
/// not wait says `Disconnected` (nothing left) or gives what they left
/// (`Some(Some(message))`, the first of it). A channel no sender ever
/// attached to is not given up (`Empty`). A sender attaching between the
/// two looks is taken for gone: the bridge lets the channel go and opens it
/// again as a new stream (what it read meanwhile is held as above).
fn senders_gone(rx: &mut Receiver) -> Option<Option<Vec<u8>>> {
    if rx.is_connected() {
        return None;
    }
    let mut buf = Vec::new();
    match rx.try_recv(&mut buf) {
        Ok(_) => Some(Some(buf)),
        Err(TryRecvError::Disconnected) => Some(None),
        Err(_) => None,
    }
}

/// A stream id that a restarted exporter is unlikely to repeat.
fn random_stream() -> u32 {
    use std::hash::BuildHasher;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let hash = std::collections::hash_map::RandomState::new().hash_one((nanos, std::process::id()));
    (hash ^ (hash >> 32)) as u32
}
