//! Hostile and corrupt segments: whatever a malicious or broken peer writes
//! into a channel's memory, memlink answers with an error, never a panic, a
//! hang or an access outside the mapping.

mod support;

use std::time::Duration;

use memlink::channel::{ChannelOptions, Kind, Receiver, Sender, TryRecvError, TrySendError};
use memlink::{Error, Mapping, View};
use proptest::prelude::*;
use support::{role, unique_name, Child, Cleanup};

/// Layout facts the attacks aim at (see `channel/layout.rs`).
const TAIL: usize = 128;
const OLDEST: usize = 136;
const FIRST_SLOTS: usize = 512;

fn channel(name: &str) -> (Sender, Receiver, View) {
    let mut options = ChannelOptions::new();
    options.capacity(4096).max_message(1000);
    let tx = options.create_sender(name).unwrap();
    let rx = Receiver::open(name).unwrap();
    let raw = Mapping::open(name).unwrap().view_all().unwrap();
    (tx, rx, raw)
}

/// Offset of the ring in a one-to-one channel: control, 1 sender slot, 1
/// receiver slot.
const RING: usize = FIRST_SLOTS + 2 * 128;
/// Offset of the receiver's head (the second slot).
const HEAD: usize = FIRST_SLOTS + 128;

fn poke_u64(view: &View, offset: usize, value: u64) {
    view.write_at(offset, &value.to_ne_bytes()).unwrap();
}

/// `WakeLine::peer_ever_attached` of the receivers' line (`Control::data`)
/// and of the senders' line (`Control::space`).
const SENDER_EVER_ATTACHED: usize = 2 * 128 + 8;
const RECEIVER_EVER_ATTACHED: usize = 3 * 128 + 8;

/// The children of the multi-process tests below.
fn play(role: &str, name: &str) {
    match role {
        // Attaches a sender, sends three messages, and holds until killed.
        "sender" => {
            let mut tx = Sender::open(name).unwrap();
            for i in 0..3u8 {
                tx.send(&[i; 100]).unwrap();
            }
            support::tell_parent("sent");
            support::wait_for_parent();
        }
        // Attaches a sender and holds it, sending nothing.
        "idle-sender" => {
            let _tx = Sender::open(name).unwrap();
            support::tell_parent("ready");
            support::wait_for_parent();
        }
        // Attaches a receiver, reads three messages, and holds until killed.
        "receiver" => {
            let mut rx = Receiver::open(name).unwrap();
            let mut buf = Vec::new();
            for _ in 0..3 {
                rx.recv_timeout(&mut buf, support::DEADLINE).unwrap();
            }
            support::tell_parent("read");
            support::wait_for_parent();
        }
        other => panic!("unknown role {other}"),
    }
}

fn zero_u32(name: &str, offset: usize) {
    let raw = Mapping::open(name).unwrap().view_all().unwrap();
    raw.write_at(offset, &0u32.to_ne_bytes()).unwrap();
}

fn expect_disconnected<T: std::fmt::Debug>(what: &str, got: memlink::Result<T>) {
    match got {
        Err(Error::Disconnected { .. }) => {}
        other => panic!("{what}: expected Disconnected, got {other:?}"),
    }
}

/// A peer with write access clears the shared "a sender was attached" word,
/// then the sender is killed: a receiver that read the sender's messages
/// (blocked while the kill happens) still learns that it is gone.
#[test]
fn a_cleared_attach_word_does_not_hide_a_killed_sender() {
    const TEST: &str = "a_cleared_attach_word_does_not_hide_a_killed_sender";
    if let Some((r, name)) = role() {
        return play(&r, &name);
    }
    let name = unique_name("flag-tx");
    let _c = Cleanup(name.clone());
    let mut options = ChannelOptions::new();
    options.capacity(4096).max_message(1000);
    let mut rx = options.create_receiver(&name).unwrap();
    let mut child = Child::spawn(TEST, "sender", &name);
    child.expect("sent");
    let mut buf = Vec::new();
    for i in 0..3u8 {
        rx.recv_timeout(&mut buf, support::DEADLINE).unwrap();
        assert_eq!(buf, [i; 100]);
    }
    zero_u32(&name, SENDER_EVER_ATTACHED);
    let blocked = std::thread::spawn(move || {
        let got = rx.recv_timeout(&mut buf, support::DEADLINE);
        (rx, got)
    });
    child.kill9();
    let (mut rx, got) = blocked.join().unwrap();
    expect_disconnected("a blocked recv", got);
    expect_disconnected("recv_borrow", rx.recv_borrow_timeout(support::DEADLINE));
}

/// The same with a receiver that never got a message: it saw the sender
/// attached (`wait_for_sender`), and that is its own knowledge.
#[test]
fn a_cleared_attach_word_does_not_hide_a_killed_idle_sender() {
    const TEST: &str = "a_cleared_attach_word_does_not_hide_a_killed_idle_sender";
    if let Some((r, name)) = role() {
        return play(&r, &name);
    }
    let name = unique_name("flag-idle");
    let _c = Cleanup(name.clone());
    let mut options = ChannelOptions::new();
    options.capacity(4096).max_message(1000);
    let mut rx = options.create_receiver(&name).unwrap();
    let mut child = Child::spawn(TEST, "idle-sender", &name);
    child.expect("ready");
    rx.wait_for_sender(support::DEADLINE).unwrap();
    zero_u32(&name, SENDER_EVER_ATTACHED);
    child.kill9();
    expect_disconnected("recv_borrow", rx.recv_borrow_timeout(support::DEADLINE));
}

/// And on the other side: the receivers' word cleared, the receiver killed,
/// a sender blocked on the full ring is released with `Disconnected`.
#[test]
fn a_cleared_attach_word_does_not_hide_a_killed_receiver() {
    const TEST: &str = "a_cleared_attach_word_does_not_hide_a_killed_receiver";
    if let Some((r, name)) = role() {
        return play(&r, &name);
    }
    let name = unique_name("flag-rx");
    let _c = Cleanup(name.clone());
    let mut options = ChannelOptions::new();
    options.capacity(4096).max_message(1000);
    let mut tx = options.create_sender(&name).unwrap();
    let mut child = Child::spawn(TEST, "receiver", &name);
    for i in 0..3u8 {
        tx.send(&[i; 100]).unwrap();
    }
    child.expect("read");
    zero_u32(&name, RECEIVER_EVER_ATTACHED);
    while tx.try_send(&[7; 100]).is_ok() {}
    child.kill9();
    expect_disconnected(
        "a send on the full ring",
        tx.send_timeout(&[8; 100], support::DEADLINE),
    );
}

#[test]
fn a_corrupt_header_is_refused_on_open() {
    let cases: [(usize, u64, &str); 6] = [
        (0, 0x1234, "magic"),
        (8, 77, "version"),
        (12, 9, "kind"),
        (24, 3000, "capacity"),
        (20, 1 << 31, "max message"),
        (48, u64::MAX, "total size"),
    ];
    for (offset, value, what) in cases {
        let name = unique_name("bad-header");
        let _c = Cleanup(name.clone());
        let (_tx, _rx, raw) = channel(&name);
        if offset == 8 || offset == 12 || offset == 20 {
            raw.write_at(offset, &(value as u32).to_ne_bytes()).unwrap();
        } else {
            poke_u64(&raw, offset, value);
        }
        match Sender::open(&name).map(|_| ()) {
            Err(Error::WrongKind { .. } | Error::Corrupt { .. } | Error::Unsupported { .. }) => {}
            Err(Error::NoFreeSlot { .. }) => panic!("{what}: corrupt header accepted"),
            other => panic!("{what}: {other:?}"),
        }
    }
}

#[test]
fn a_record_length_beyond_the_limit_is_corrupt() {
    let name = unique_name("bad-len");
    let _c = Cleanup(name.clone());
    let (mut tx, mut rx, raw) = channel(&name);
    tx.send(b"hello").unwrap();
    // The record header's length field: claim 3000 bytes.
    raw.write_at(RING, &3000u32.to_ne_bytes()).unwrap();
    let mut buf = Vec::new();
    match rx.try_recv(&mut buf) {
        Err(TryRecvError::Failed(Error::Corrupt { what, .. })) => {
            assert!(what.contains("3000"), "{what}")
        }
        other => panic!("{other:?}"),
    }
    // A length that fits the limit but runs past what was published.
    raw.write_at(RING, &900u32.to_ne_bytes()).unwrap();
    assert!(matches!(
        rx.recv_timeout(&mut buf, Duration::from_secs(5)),
        Err(Error::Corrupt { .. })
    ));
}

/// The marker where the next record goes (layout version 3:
/// `layout::UNPUBLISHED` in the header's length, published in band)
/// replaced by bytes that were never sent after the last record: zeros of
/// a fresh ring, or a record of an earlier lap. Their sequence numbers give
/// them away: `Corrupt`, not messages.
#[test]
fn stale_bytes_at_the_head_are_corrupt_not_messages() {
    // 5 messages: the ring after them was never written; 40: it holds the
    // previous lap's records (112 bytes each: 8 + 100, rounded up).
    for sent in [5u64, 40] {
        let name = unique_name("forged-marker");
        let _c = Cleanup(name.clone());
        let (mut tx, mut rx, raw) = channel(&name);
        let mut buf = Vec::new();
        for i in 0..sent {
            tx.send(&[i as u8; 100]).unwrap();
            rx.recv_timeout(&mut buf, support::DEADLINE).unwrap();
        }
        // 36 records fit a lap (then padding): record 36 starts the next.
        let head = (sent % 36 * 112) as usize;
        let mut word = [0u8; 8];
        raw.read_at(RING + head, &mut word).unwrap();
        let word = u64::from_ne_bytes(word);
        assert_eq!(word as u32, UNPUBLISHED, "the marker is at the head");
        let stale = if sent < 36 {
            0 // a fresh ring's zeros: "record 0, empty"
        } else {
            // The record of the lap before at the same position.
            100 | ((sent - 36) << 32)
        };
        poke_u64(&raw, RING + head, stale);
        match rx.try_recv(&mut buf) {
            Err(TryRecvError::Failed(Error::Corrupt { what, .. })) => {
                assert!(what.contains("sequence"), "{what}")
            }
            other => panic!("after {sent} messages, stale bytes gave {other:?}"),
        }
    }
}

/// `layout::UNPUBLISHED`: the length field of the marker.
const UNPUBLISHED: u32 = u32::MAX - 1;

/// A channel of layout version 2 (before in-band publication) is refused
/// with `Unsupported`, naming both versions, by every kind of opener.
#[test]
fn a_version_2_channel_is_unsupported() {
    let name = unique_name("version-2");
    let _c = Cleanup(name.clone());
    let (_tx, _rx, raw) = channel(&name);
    raw.write_at(8, &2u32.to_ne_bytes()).unwrap();
    let check = |what: &str, got: memlink::Result<()>| match got {
        Err(Error::Unsupported { what: message }) => {
            assert!(message.contains(&name), "{what}: {message}");
            assert!(
                message.contains("version 2") && message.contains("version 3"),
                "{what}: {message}"
            );
        }
        other => panic!("{what} of a version-2 channel gave {other:?}"),
    };
    check("Sender::open", Sender::open(&name).map(|_| ()));
    check("Receiver::open", Receiver::open(&name).map(|_| ()));
    check("inspect", memlink::channel::inspect(&name).map(|_| ()));
}

/// A lossy receiver counts what it missed from sequence numbers; a forged
/// one cannot make it claim more than the skipped bytes could hold.
#[test]
fn a_forged_sequence_number_cannot_inflate_the_missed_count() {
    let name = unique_name("forged-seq");
    let _c = Cleanup(name.clone());
    let mut options = ChannelOptions::new();
    options
        .kind(Kind::Broadcast)
        .lossy(true)
        .max_receivers(1)
        .capacity(4096)
        .max_message(1000);
    let mut tx = options.create_sender(&name).unwrap();
    let mut rx = Receiver::open(&name).unwrap();
    let raw = Mapping::open(&name).unwrap().view_all().unwrap();
    let mut buf = Vec::new();
    tx.send(&[1; 100]).unwrap();
    rx.recv_timeout(&mut buf, support::DEADLINE).unwrap();
    tx.send(&[2; 100]).unwrap();
    // The second record's sequence number (the header's high half).
    let seq_at = RING + 112 + if cfg!(target_endian = "little") { 4 } else { 0 };
    raw.write_at(seq_at, &0xffff_fff0u32.to_ne_bytes()).unwrap();
    rx.recv_timeout(&mut buf, support::DEADLINE).unwrap();
    assert_eq!(buf, [2; 100]);
    assert_eq!(rx.take_missed(), 0, "nothing was skipped between the two");
}

/// Receivers never read the tail (layout version 3 publishes in band): a
/// tail out of its window does not stop a one-to-one channel, whose sender
/// keeps its own. A sender that takes over the channel reads it, and says
/// `Corrupt` when it is misaligned or out of its window.
#[test]
fn a_tail_out_of_its_window_misleads_no_receiver() {
    for bad_tail in [u64::MAX, 1 << 40, 4096 + 4096] {
        let name = unique_name("bad-tail");
        let _c = Cleanup(name.clone());
        let (mut tx, mut rx, raw) = channel(&name);
        poke_u64(&raw, TAIL, bad_tail);
        let mut buf = Vec::new();
        assert!(
            matches!(rx.try_recv(&mut buf), Err(TryRecvError::Empty)),
            "tail {bad_tail}"
        );
        tx.send(b"still here").unwrap();
        rx.recv_timeout(&mut buf, support::DEADLINE).unwrap();
        assert_eq!(buf, b"still here");
        // A new sender starts at the forged tail (7 bytes past the record
        // just sent, or far out): its first send reports the corruption.
        drop(tx);
        poke_u64(&raw, TAIL, bad_tail);
        let err = match Sender::open(&name) {
            Err(e) => format!("{e:?}"),
            Ok(mut tx) => {
                let mut outcome = Ok(());
                for _ in 0..20 {
                    outcome = tx.try_send(&[0u8; 500]).map_err(|e| format!("{e:?}"));
                    if outcome.is_err() {
                        break;
                    }
                }
                outcome.expect_err("the sender must notice")
            }
        };
        assert!(err.contains("Corrupt"), "tail {bad_tail}: {err}");
    }
}

#[test]
fn a_receiver_head_out_of_its_window_is_corrupt_for_the_sender() {
    let name = unique_name("bad-head");
    let _c = Cleanup(name.clone());
    let (mut tx, _rx, raw) = channel(&name);
    poke_u64(&raw, HEAD, 1 << 50);
    // The sender only looks at the head when it believes the ring is full.
    let mut outcome = Ok(());
    for _ in 0..20 {
        outcome = tx.try_send(&[0u8; 500]).map_err(|e| format!("{e:?}"));
        if outcome.is_err() {
            break;
        }
    }
    let err = outcome.expect_err("the sender must notice");
    assert!(err.contains("Corrupt"), "{err}");
}

#[test]
fn a_padding_record_at_the_start_of_the_ring_is_corrupt() {
    let name = unique_name("bad-pad");
    let _c = Cleanup(name.clone());
    let (mut tx, mut rx, raw) = channel(&name);
    tx.send(b"x").unwrap();
    raw.write_at(RING, &u32::MAX.to_ne_bytes()).unwrap();
    let mut buf = Vec::new();
    assert!(matches!(
        rx.try_recv(&mut buf),
        Err(TryRecvError::Failed(Error::Corrupt { .. }))
    ));
}

#[test]
fn a_lossy_readers_oldest_pointer_cannot_send_it_out_of_the_ring() {
    let name = unique_name("bad-oldest");
    let _c = Cleanup(name.clone());
    let mut options = ChannelOptions::new();
    options
        .capacity(4096)
        .max_message(1000)
        .kind(memlink::channel::Kind::Broadcast)
        .lossy(true);
    let mut tx = options.create_sender(&name).unwrap();
    let mut rx = Receiver::open(&name).unwrap();
    let raw = Mapping::open(&name).unwrap().view_all().unwrap();
    tx.send(b"one").unwrap();
    poke_u64(&raw, OLDEST, u64::MAX - 5);
    let mut buf = Vec::new();
    // Whatever it concludes, it must conclude something, quickly.
    let _ = rx.try_recv(&mut buf);
    let _ = rx.recv_timeout(&mut buf, Duration::from_millis(50));
}

#[test]
fn a_mapping_smaller_than_its_header_claims_is_refused() {
    let name = unique_name("short");
    let _c = Cleanup(name.clone());
    let copy = unique_name("short-copy");
    let _c2 = Cleanup(copy.clone());
    let (_tx, _rx, raw) = channel(&name);
    // Copy the header (and a bit) into a mapping too small for the ring.
    let mut header = vec![0u8; 1024];
    raw.read_at(0, &mut header).unwrap();
    let short = Mapping::create(&copy, 1024).unwrap();
    short.view_all().unwrap().write_at(0, &header).unwrap();
    assert!(matches!(Receiver::open(&copy), Err(Error::Corrupt { .. })));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]

    /// A peer scribbling anywhere in the channel, at any time, yields
    /// messages or errors: never a panic, a hang or a crash.
    #[test]
    fn random_scribbles_never_panic_or_hang(
        writes in proptest::collection::vec((0usize..RING + 4096, any::<u64>()), 1..24),
        messages in proptest::collection::vec(0usize..1000, 1..12),
    ) {
        let name = unique_name("scribble");
        let _c = Cleanup(name.clone());
        let (mut tx, mut rx, raw) = channel(&name);
        let mut buf = Vec::new();
        for (i, len) in messages.iter().enumerate() {
            let _ = tx.try_send(&vec![i as u8; *len]);
            if let Some(&(offset, value)) = writes.get(i) {
                let offset = offset.min(RING + 4096 - 8) & !7;
                poke_u64(&raw, offset, value);
            }
            let _ = rx.try_recv(&mut buf);
            let _ = rx.recv_timeout(&mut buf, Duration::from_millis(1));
            let _ = tx.send_timeout(b"probe", Duration::from_millis(1));
        }
        for &(offset, value) in &writes {
            let offset = offset.min(RING + 4096 - 8) & !7;
            poke_u64(&raw, offset, value);
        }
        for _ in 0..4 {
            let _ = rx.try_recv(&mut buf);
            match tx.try_send(b"x") {
                Ok(()) | Err(TrySendError::Full | TrySendError::Disconnected | TrySendError::Failed(_)) => {}
            }
        }
        // Whatever the scribbles did, opening the channel again answers.
        let _ = Sender::open(&name);
        let _ = Receiver::open(&name);
    }
}

/// `WakeLine::belled` and `WakeLine::bells` of the receivers' line.
const DATA_BELLED: usize = 2 * 128 + 16;
const DATA_BELLS: usize = 2 * 128 + 24;

/// Doorbell identities forged into a channel's wake line make its sender
/// open nothing but doorbells of its own user's namespace (names derived
/// from the integers), write nothing that is not a valid doorbell, and
/// keep sending; announcements naming no doorbell at all are cleared.
#[test]
fn forged_doorbell_announcements_open_and_write_nothing_else() {
    let name = unique_name("hostile-bell");
    let _c = Cleanup(name.clone());
    let (mut tx, mut rx, raw) = channel(&name);
    // A plain mapping where a forged identity's doorbell would be.
    let planted_id: u64 = (u64::from(std::process::id()) << 32) | 0xdead_0001;
    let planted_name = format!("memlink-bell-{}-dead0001", std::process::id());
    let _p = Cleanup(planted_name.clone());
    let planted = Mapping::create(&planted_name, 256).unwrap();
    let planted_view = planted.view_all().unwrap();
    let missing_id: u64 = (1 << 32) | 0x0bad_cafe;
    let forged = [planted_id, missing_id, u64::MAX, 0x2e2e_2f2e_2e2f_6574];
    raw.write_at(DATA_BELLED, &(forged.len() as u32).to_ne_bytes())
        .unwrap();
    for (i, id) in forged.iter().enumerate() {
        poke_u64(&raw, DATA_BELLS + 8 * i, *id);
    }
    let mut buf = Vec::new();
    for i in 0..5u8 {
        tx.send(&[i; 10]).unwrap();
        assert_eq!(
            rx.recv_timeout(&mut buf, Duration::from_secs(5)).unwrap(),
            10
        );
    }
    let mut bytes = [1u8; 256];
    planted_view.read_at(0, &mut bytes).unwrap();
    assert!(
        bytes.iter().all(|&b| b == 0),
        "the planted mapping was written"
    );
    let slot = |i: usize| {
        let mut word = [0u8; 8];
        raw.read_at(DATA_BELLS + 8 * i, &mut word).unwrap();
        u64::from_ne_bytes(word)
    };
    // Not a doorbell: left (and not retried for a liveness slice).
    assert_eq!(slot(0), planted_id);
    // No such doorbells: cleared, and counted down.
    for i in 1..forged.len() {
        assert_eq!(slot(i), 0, "forged announcement {i} was left");
    }
    let mut belled = [0u8; 4];
    raw.read_at(DATA_BELLED, &mut belled).unwrap();
    assert_eq!(u32::from_ne_bytes(belled), 1);
}
