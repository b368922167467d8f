//! One fuzz case for channel segments, driven by raw bytes: shared by the
//! proptest fuzzer that runs in CI (`tests/fuzz.rs`) and the cargo-fuzz
//! target (`fuzz/fuzz_targets/segment.rs`).
//!
//! The bytes choose a valid channel (kind, ring size, largest message, a few
//! messages sent), which is copied out as an image; then they rewrite
//! fields of the image (header, indices, locks, slots, ring) and choose the
//! mapping's size (truncated or not). The image is placed in a fresh
//! mapping, which is opened as a channel and used by every means a sender
//! and a receiver have. Whatever the bytes, memlink must answer with
//! messages or errors: a panic, a hang or a crash is a failure.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use memlink::channel::{ChannelOptions, Kind};
use memlink::Mapping;

/// Reads the fuzz input as a stream of small decisions; zeros once used up.
pub struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn u8(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }

    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }

    fn u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        for x in &mut b {
            *x = self.u8();
        }
        u64::from_le_bytes(b)
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// A value that is likely to sit on an edge: 0, 1, all ones, a power of
    /// two or one off it, or anything.
    fn edgy(&mut self, valid: u64) -> u64 {
        match self.u8() % 8 {
            0 => 0,
            1 => 1,
            2 => u64::MAX,
            3 => 1u64 << (self.u8() % 64),
            4 => valid.wrapping_add(1),
            5 => valid.wrapping_sub(1),
            6 => valid.wrapping_add(u64::from(self.u16())),
            _ => self.u64(),
        }
    }
}

fn unique(tag: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "mltest-fuzz-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Runs one fuzz case.
pub fn exercise(data: &[u8]) {
    let mut input = Input(data);
    // A valid channel to start from.
    let kind = match input.u8() % 3 {
        0 => Kind::OneToOne,
        1 => Kind::ManyToOne,
        _ => Kind::Broadcast,
    };
    let lossy = kind == Kind::Broadcast && input.u8() % 2 == 0;
    let capacity = 256u64 << (input.u8() % 5);
    let max_message = 1 + u32::from(input.u16()) % (capacity as u32 / 2 - 15);
    let mut options = ChannelOptions::new();
    options
        .kind(kind)
        .lossy(lossy)
        .capacity(capacity)
        .max_message(max_message)
        .max_senders(2)
        .max_receivers(2);
    let original = unique("orig");
    let image = {
        let Ok(mut tx) = options.create_sender(&original) else {
            return;
        };
        let rx = options.open_receiver(&original).ok();
        for i in 0..input.u8() % 16 {
            let len = usize::from(input.u16()) % (max_message as usize + 1);
            let _ = tx.try_send(&vec![i; len]);
        }
        let raw = Mapping::open(&original).expect("open the channel as a mapping");
        let mut image = vec![0u8; raw.size() as usize];
        raw.view_all()
            .expect("view the channel")
            .read_at(0, &mut image)
            .expect("read the channel");
        drop((rx, tx, raw));
        image
    };
    let mut image = image;
    // Rewrite fields: mostly in the control blocks and slots (the first
    // 1 KiB), some anywhere.
    for _ in 0..input.u8() % 12 {
        if input.is_empty() {
            break;
        }
        let anywhere = input.u8() % 4 == 0;
        let span = if anywhere {
            image.len()
        } else {
            image.len().min(1024)
        };
        let at = (usize::from(input.u16()) % span) & !3;
        let wide = input.u8() % 2 == 0 && at % 8 == 0 && at + 8 <= image.len();
        if wide {
            let old = u64::from_le_bytes(image[at..at + 8].try_into().unwrap());
            let new = input.edgy(old);
            image[at..at + 8].copy_from_slice(&new.to_le_bytes());
        } else if at + 4 <= image.len() {
            let old = u64::from(u32::from_le_bytes(image[at..at + 4].try_into().unwrap()));
            let new = input.edgy(old) as u32;
            image[at..at + 4].copy_from_slice(&new.to_le_bytes());
        }
    }
    // The mapping's size: as it was, or cut short anywhere.
    let size = match input.u8() % 4 {
        0 => 1 + u64::from(input.u16()) % image.len() as u64,
        _ => image.len() as u64,
    };
    let hostile = unique("seg");
    let Ok(mapping) = Mapping::create(&hostile, size) else {
        return;
    };
    mapping
        .view_all()
        .expect("view the hostile mapping")
        .write_at(0, &image[..size as usize])
        .expect("write the hostile mapping");
    let opener = ChannelOptions::new();
    let mut buf = Vec::new();
    if let Ok(mut rx) = opener.open_receiver(&hostile) {
        for _ in 0..4 {
            if let Ok(n) = rx.try_recv(&mut buf) {
                assert!(n <= rx.max_message(), "a message longer than the maximum");
            }
            if let Ok(m) = rx.try_recv_borrow() {
                let _ = m.to_vec();
            }
            let _ = rx.recv_timeout(&mut buf, Duration::ZERO);
            let _ = rx.take_missed();
        }
    }
    if let Ok(mut tx) = opener.open_sender(&hostile) {
        for i in 0..4usize {
            let _ = tx.try_send(&vec![7u8; i * 13 % (tx.max_message() + 1)]);
            if let Ok(mut loan) = tx.try_loan(3.min(tx.max_message())) {
                let _ = loan.write_at(0, b"abc");
                loan.commit();
            }
            let _ = tx.send_timeout(b"", Duration::ZERO);
        }
    }
    drop(mapping);
    let _ = Mapping::remove(&hostile);
    let _ = Mapping::remove(&original);
}
