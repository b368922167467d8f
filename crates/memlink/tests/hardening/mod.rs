//! Helpers shared by the hardening tests (`crash.rs`, `soak.rs`): messages
//! that prove their own integrity, a seeded random source, and leak checks.
#![allow(dead_code)]

pub mod segment;

use std::time::Duration;

/// Bytes of a message's header: seq (8), sender id (4), length (4), header
/// check (8).
pub const HEADER: usize = 24;

/// How long a blocked call may take to notice a killed peer before the test
/// calls it a hang. The library promises 100 ms; two shared cores under CI
/// load get some slack, and the tests print what they measured.
pub const BOUND: Duration = Duration::from_secs(2);

/// splitmix64's finaliser: a cheap, well-mixed function of a word.
pub fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn header_check(id: u32, seq: u64, len: usize) -> u64 {
    mix(seq ^ (u64::from(id) << 40) ^ ((len as u64) << 20) ^ 0x6d65_6d6c_696e_6b21)
}

/// Fills `buf` with message `seq` of sender `id`, `len` bytes long (at least
/// [`HEADER`]): a header that names it and a payload that only it has.
pub fn encode(buf: &mut Vec<u8>, id: u32, seq: u64, len: usize) {
    let len = len.max(HEADER);
    buf.clear();
    buf.resize(len, 0);
    fill(buf, id, seq);
}

/// Writes message `seq` of sender `id` into `out`, whose length is the
/// message's length (at least [`HEADER`]).
pub fn fill(out: &mut [u8], id: u32, seq: u64) {
    let len = out.len();
    out[..8].copy_from_slice(&seq.to_le_bytes());
    out[8..12].copy_from_slice(&id.to_le_bytes());
    out[12..16].copy_from_slice(&(len as u32).to_le_bytes());
    out[16..24].copy_from_slice(&header_check(id, seq, len).to_le_bytes());
    let seed = mix(seq.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ u64::from(id));
    for (j, chunk) in out[HEADER..].chunks_mut(8).enumerate() {
        let word = mix(seed.wrapping_add(j as u64)).to_le_bytes();
        chunk.copy_from_slice(&word[..chunk.len()]);
    }
}

/// Checks a message made by [`encode`]: returns `(id, seq)`, or what is
/// wrong with it (torn, truncated, or not a message at all).
pub fn decode(m: &[u8]) -> Result<(u32, u64), String> {
    if m.len() < HEADER {
        return Err(format!("short message of {} bytes", m.len()));
    }
    let word = |r: std::ops::Range<usize>| {
        let mut b = [0u8; 8];
        b[..r.len()].copy_from_slice(&m[r]);
        u64::from_le_bytes(b)
    };
    let seq = word(0..8);
    let id = word(8..12) as u32;
    let len = word(12..16) as usize;
    if len != m.len() {
        return Err(format!(
            "message {id}/{seq} says {len} bytes, has {}",
            m.len()
        ));
    }
    if word(16..24) != header_check(id, seq, len) {
        return Err(format!("torn header (claims {id}/{seq}, {len} bytes)"));
    }
    let seed = mix(seq.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ u64::from(id));
    for (j, chunk) in m[HEADER..].chunks(8).enumerate() {
        let word = mix(seed.wrapping_add(j as u64)).to_le_bytes();
        if chunk != &word[..chunk.len()] {
            return Err(format!(
                "torn payload in message {id}/{seq} at byte {}",
                HEADER + j * 8
            ));
        }
    }
    Ok((id, seq))
}

/// A small seeded random source (splitmix64): every run prints its seed, and
/// `MEMLINK_CRASH_SEED` replays one.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// Seeded from `MEMLINK_CRASH_SEED` or the clock; says which.
    pub fn from_env(test: &str) -> Rng {
        let seed = std::env::var("MEMLINK_CRASH_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(1)
                    ^ u64::from(std::process::id())
            });
        eprintln!("{test}: MEMLINK_CRASH_SEED={seed}");
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix(self.0)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// A message length: mostly small, sometimes up to `max`.
    pub fn len(&mut self, max: usize) -> usize {
        match self.below(4) {
            0 => HEADER + self.below((max - HEADER + 1) as u64) as usize,
            _ => HEADER + self.below(64) as usize,
        }
    }
}

/// Rounds for one crash test: its `share` (percent) of `MEMLINK_CRASH_ROUNDS`
/// (200 unless set), at least one.
pub fn rounds(share: usize) -> usize {
    let total = std::env::var("MEMLINK_CRASH_ROUNDS")
        .ok()
        .and_then(|s| s.parse::<usize>().ok())
        .unwrap_or(200);
    (total * share / 100).max(1)
}

/// Fails unless `name` is gone: not openable, not listed, and no entry left
/// in `/dev/shm` (a dead entry that nobody holds counts as a leak).
pub fn assert_gone(name: &str) {
    match memlink::Mapping::inspect(name) {
        Err(memlink::Error::NotFound { .. }) => {}
        Ok(info) => panic!(
            "{name} leaked: {} still exists (live {:?}, holders {:?})",
            info.path.display(),
            info.live,
            info.holders
        ),
        Err(e) => panic!("inspect {name}: {e}"),
    }
}

/// Timing of the "peer is gone" notices of a test, printed at the end.
#[derive(Default)]
pub struct Notices(Vec<Duration>);

impl Notices {
    pub fn add(&mut self, d: Duration) {
        assert!(d < BOUND, "a blocked call took {d:?} to notice a dead peer");
        self.0.push(d);
    }

    pub fn report(&mut self, what: &str) {
        if self.0.is_empty() {
            return;
        }
        self.0.sort();
        let n = self.0.len();
        eprintln!(
            "{what}: {n} notices of a killed peer, p50 {:?}, max {:?}",
            self.0[n / 2],
            self.0[n - 1]
        );
    }
}
