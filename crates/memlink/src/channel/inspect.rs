//! Looking at a channel from outside, without attaching an endpoint: what
//! `memlink ls`, `info` and `watch` show.

use std::sync::atomic::Ordering;

use super::layout::{Kind, FLAG_LOSSY};
use super::shared::Channel;
use super::{ChannelOptions, Receiver, Sender};
use crate::error::Result;
use crate::types::Access;

/// A channel as seen from outside at one moment: its shape, how full it is,
/// its counters and its endpoints. Every figure comes from the (untrusted)
/// segment and is clamped to what the geometry allows.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChannelInfo {
    /// The channel's full name (`Global\x`, `Local\x`).
    pub name: String,
    /// What it connects.
    pub kind: Kind,
    /// Lossy broadcast: slow readers lose the oldest messages.
    pub lossy: bool,
    /// The ring's size in bytes.
    pub capacity: u64,
    /// The largest message, in bytes.
    pub max_message: u32,
    /// Ring bytes published and not yet taken by the slowest receiver (0
    /// for a lossy broadcast, whose sender never waits).
    pub used: u64,
    /// Messages sent since the channel was made (the sequence counter, so
    /// it wraps at 2^32): the difference of two samples is a rate.
    pub messages: u32,
    /// Ring bytes published since the channel was made, record headers and
    /// wrap padding included.
    pub bytes: u64,
    /// The sender slots.
    pub senders: Vec<EndpointInfo>,
    /// The receiver slots.
    pub receivers: Vec<EndpointInfo>,
    /// Wait sets asleep on this channel by doorbell now (on either side:
    /// waiting for messages or for room), as their slots in the wake lines
    /// say; a wait set killed while asleep counts until a waker clears it.
    pub doorbells: u32,
}

/// One endpoint slot of a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct EndpointInfo {
    /// The slot's index.
    pub slot: u32,
    /// The process that last attached there (0: never), as that process
    /// wrote it: a hint, not a proof.
    pub pid: u32,
    /// Whether a live endpoint holds the slot now (the kernel's answer).
    pub alive: bool,
    /// Bumped by every endpoint that claims the slot (wraps): two looks
    /// that differ here saw different occupants. Written by the processes
    /// themselves, so a hint, as `pid` is.
    pub generation: u32,
}

impl ChannelInfo {
    /// Senders alive now.
    pub fn live_senders(&self) -> usize {
        self.senders.iter().filter(|e| e.alive).count()
    }

    /// Receivers alive now.
    pub fn live_receivers(&self) -> usize {
        self.receivers.iter().filter(|e| e.alive).count()
    }
}

impl ChannelOptions {
    /// Describes channel `name` without attaching an endpoint. It is opened
    /// read-only for the moment this takes (a foreign one only with
    /// [`ChannelOptions::allow_foreign_owner`]), without counting as one of
    /// its holders on Unix: looking never keeps a channel alive. A mapping
    /// that is not a channel is [`Error::WrongKind`](crate::Error::WrongKind).
    pub fn inspect(&self, name: &str) -> Result<ChannelInfo> {
        let mut options = self.mapping.clone();
        options.access(Access::ReadOnly);
        let mapping = options.open(name)?;
        mapping.stop_holding();
        let channel = Channel::attach(mapping)?;
        Ok(describe(&channel))
    }
}

/// Describes channel `name` (see [`ChannelOptions::inspect`]).
pub fn inspect(name: &str) -> Result<ChannelInfo> {
    ChannelOptions::new().inspect(name)
}

impl Receiver {
    /// The sender slots of this receiver's channel now: for each, whether a
    /// live sender holds it (the kernel's answer: one system call per slot)
    /// the pid its last sender recorded, and the slot's generation. Two
    /// looks tell whether a sender left in between, even one that attached
    /// after the first look (the generation moved); the C ABI's peer-death
    /// watch is built on this.
    ///
    /// ```
    /// use memlink::channel::{ChannelOptions, Sender};
    /// # let name = format!("doc-rx-peers-{}", std::process::id());
    /// let rx = ChannelOptions::new().create_receiver(&name)?;
    /// assert!(rx.peers().iter().all(|slot| !slot.alive));
    /// let tx = Sender::open(&name)?;
    /// assert_eq!(rx.peers().iter().filter(|slot| slot.alive).count(), 1);
    /// drop(tx);
    /// assert!(rx.peers().iter().all(|slot| !slot.alive));
    /// # Ok::<(), memlink::Error>(())
    /// ```
    pub fn peers(&self) -> Vec<EndpointInfo> {
        senders_of(self.wait_line().0)
    }
}

impl Sender {
    /// The receiver slots of this sender's channel now, as
    /// [`Receiver::peers`] gives the sender slots.
    ///
    /// ```
    /// use memlink::channel::{ChannelOptions, Receiver};
    /// # let name = format!("doc-tx-peers-{}", std::process::id());
    /// let tx = ChannelOptions::new().create_sender(&name)?;
    /// let rx = Receiver::open(&name)?;
    /// let peers = tx.peers();
    /// assert_eq!(peers.iter().filter(|slot| slot.alive).count(), 1);
    /// assert!(peers.iter().any(|slot| slot.pid == std::process::id()));
    /// drop(rx);
    /// assert!(tx.peers().iter().all(|slot| !slot.alive));
    /// # Ok::<(), memlink::Error>(())
    /// ```
    pub fn peers(&self) -> Vec<EndpointInfo> {
        receivers_of(self.wait_line().0)
    }
}

fn senders_of(channel: &Channel) -> Vec<EndpointInfo> {
    (0..channel.geometry().max_senders)
        .map(|i| EndpointInfo {
            slot: i,
            // Relaxed: a hint written by the process itself, not a proof.
            pid: channel.sender_slot(i).pid.load(Ordering::Relaxed),
            // Relaxed: a hint, as the pid (claims bump it Relaxed too).
            generation: channel.sender_slot(i).generation.load(Ordering::Relaxed),
            alive: channel.any_alive(i, 1),
        })
        .collect()
}

fn receivers_of(channel: &Channel) -> Vec<EndpointInfo> {
    let g = channel.geometry();
    (0..g.max_receivers)
        .map(|i| EndpointInfo {
            slot: i,
            // Relaxed: as in `senders_of`.
            pid: channel.receiver_slot(i).pid.load(Ordering::Relaxed),
            // Relaxed: as in `senders_of`.
            generation: channel.receiver_slot(i).generation.load(Ordering::Relaxed),
            alive: channel.any_alive(g.max_senders + i, 1),
        })
        .collect()
}

fn describe(channel: &Channel) -> ChannelInfo {
    let g = *channel.geometry();
    let control = channel.control();
    let tail = control.producer.tail.load(Ordering::Acquire);
    let senders = senders_of(channel);
    let receivers = receivers_of(channel);
    let lossy = g.flags & FLAG_LOSSY != 0;
    // The slowest receiver that counts: the one slot of a one-to-one or
    // many-to-one channel (its cursor outlives its receiver), the live
    // readers of a broadcast.
    let heads = receivers
        .iter()
        .filter(|r| g.kind != Kind::Broadcast || r.alive)
        .map(|r| channel.receiver_slot(r.slot).head.load(Ordering::Acquire));
    let used = match heads.min() {
        Some(head) if !lossy => tail.saturating_sub(head).min(g.capacity),
        _ => 0,
    };
    ChannelInfo {
        name: channel.name().to_owned(),
        kind: g.kind,
        lossy,
        capacity: g.capacity,
        max_message: g.max_message,
        used,
        messages: control.producer.next_seq.load(Ordering::Relaxed),
        bytes: tail,
        senders,
        receivers,
        doorbells: [&control.data, &control.space]
            .iter()
            .flat_map(|line| line.bells.iter())
            .filter(|slot| slot.load(Ordering::Relaxed) != 0)
            .count() as u32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::{Receiver, Sender};

    #[test]
    fn a_channel_tells_its_shape_fill_counters_and_endpoints() {
        let name = format!("mltest-inspect-{}", std::process::id());
        let mut options = ChannelOptions::new();
        options
            .kind(Kind::ManyToOne)
            .max_senders(3)
            .capacity(4096)
            .max_message(100);
        let mut tx = options.create_sender(&name).unwrap();
        let info = inspect(&name).unwrap();
        assert_eq!(
            (info.kind, info.lossy, info.capacity, info.max_message),
            (Kind::ManyToOne, false, 4096, 100)
        );
        assert_eq!((info.live_senders(), info.live_receivers()), (1, 0));
        assert_eq!(info.senders.len(), 3);
        assert_eq!(info.senders[0].pid, std::process::id());
        for _ in 0..5 {
            tx.send(&[7; 40]).unwrap();
        }
        let mut rx = Receiver::open(&name).unwrap();
        rx.recv().unwrap();
        let info = inspect(&name).unwrap();
        assert_eq!(info.messages, 5);
        assert_eq!(info.bytes, 5 * 48);
        assert_eq!(info.used, 4 * 48, "one of five taken");
        assert_eq!((info.live_senders(), info.live_receivers()), (1, 1));
        drop(tx);
        let _second = Sender::open(&name).unwrap();
        assert_eq!(inspect(&name).unwrap().live_senders(), 1);
        drop(rx);
        assert_eq!(inspect(&name).unwrap().live_receivers(), 0);
    }

    /// An observer does not outlive the last holder: the name goes when the
    /// last real holder does, while the observer's handle stays usable.
    #[cfg(unix)]
    #[test]
    fn looking_inside_never_keeps_a_name_alive() {
        let name = format!("mltest-inspect-observer-{}", std::process::id());
        let holder = crate::Mapping::create(&name, 4096).unwrap();
        holder.view_all().unwrap().write_at(0, b"seen").unwrap();
        let observer = crate::Mapping::open(&name).unwrap();
        observer.stop_holding();
        drop(holder);
        assert!(
            matches!(
                crate::Mapping::open(&name),
                Err(crate::Error::NotFound { .. })
            ),
            "the observer kept the name"
        );
        let mut buf = [0u8; 4];
        observer.view_all().unwrap().read_at(0, &mut buf).unwrap();
        assert_eq!(&buf, b"seen");
    }

    #[test]
    fn a_plain_mapping_is_not_a_channel() {
        let name = format!("mltest-inspect-plain-{}", std::process::id());
        let _m = crate::Mapping::create(&name, 4096).unwrap();
        assert!(matches!(
            inspect(&name),
            Err(crate::Error::WrongKind { .. } | crate::Error::Corrupt { .. })
        ));
    }
}
