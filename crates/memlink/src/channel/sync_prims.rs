//! The atomics and the futex park/wake that the channel's lock-free
//! protocols are written against, so that loom can run the real code.
//!
//! The protocols ([`super::send_lock`], [`super::park`] and the broadcast
//! join in [`super::broadcast`]) are generic over [`Word32`] / [`Word64`]
//! (an atomic word) and [`Futex`] (sleep while a word holds a value; wake
//! its sleepers). In the library they are instantiated, once, with the
//! `std` atomics of the shared segment and the kernel's futex
//! ([`KernelFutex`], `crate::sys`); everything is inlined, so the
//! indirection costs nothing. Under `cfg(loom)` the same functions are also
//! instantiated with loom's atomics and [`loom_impl::ModelFutex`] by
//! `tests/loom_ring.rs`, which then explores every interleaving of the real
//! code.
//!
//! # `SeqCst` under loom
//!
//! loom treats `SeqCst` loads and stores as `AcqRel` (tokio-rs/loom#180): it
//! reports the store-buffering outcome even between two `SeqCst` accesses,
//! which the C++20/Rust model forbids, but it models `SeqCst` *fences*
//! exactly. So the loom words put a `SeqCst` fence before every `SeqCst`
//! load: a `SeqCst` store (or read-modify-write) followed by a `SeqCst` load
//! in one thread is then ordered as C++20 orders it, and nothing else is
//! strengthened. A `SeqCst` access followed by a weaker load (the park
//! protocol's re-check) gets no fence: a missing fence there stays a bug
//! that loom finds.
//!
//! # Mutations
//!
//! Under `cfg(loom)`, [`mutated`] re-introduces a past bug in the real code
//! when the environment variable `MEMLINK_MUTATION` names it (see
//! [`Mutation`]); `tests/loom_ring.rs` runs each in a child process and
//! requires loom to fail it. Without `cfg(loom)` it is a constant `false`.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Instant;

/// An atomic 32-bit word: the subset of `AtomicU32` the protocols use.
pub trait Word32 {
    /// `AtomicU32::load`.
    fn load(&self, order: Ordering) -> u32;
    /// `AtomicU32::store`.
    fn store(&self, value: u32, order: Ordering);
    /// `AtomicU32::fetch_add`.
    fn fetch_add(&self, value: u32, order: Ordering) -> u32;
    /// `AtomicU32::fetch_sub`.
    fn fetch_sub(&self, value: u32, order: Ordering) -> u32;
    /// `AtomicU32::compare_exchange`.
    fn compare_exchange(
        &self,
        current: u32,
        new: u32,
        success: Ordering,
        failure: Ordering,
    ) -> Result<u32, u32>;
    /// `AtomicU32::compare_exchange_weak`.
    fn compare_exchange_weak(
        &self,
        current: u32,
        new: u32,
        success: Ordering,
        failure: Ordering,
    ) -> Result<u32, u32>;
    /// A fence of the same memory model as the word.
    fn fence(order: Ordering);
}

/// An atomic 64-bit word: the subset of `AtomicU64` the protocols use.
pub trait Word64 {
    /// `AtomicU64::load`.
    fn load(&self, order: Ordering) -> u64;
    /// `AtomicU64::store`.
    fn store(&self, value: u64, order: Ordering);
    /// `AtomicU64::compare_exchange`.
    fn compare_exchange(
        &self,
        current: u64,
        new: u64,
        success: Ordering,
        failure: Ordering,
    ) -> Result<u64, u64>;
    /// A fence of the same memory model as the word.
    fn fence(order: Ordering);
}

/// Sleeping on a 32-bit word of type `W` until woken.
pub trait Futex<W: Word32> {
    /// Sleeps while `word` holds `value`, until woken by
    /// [`Futex::wake_all`] or `until` (`None`: no deadline). May return
    /// early; the caller looks again.
    fn wait_while(&self, word: &W, value: u32, until: Option<Instant>);
    /// Wakes every sleeper on `word`.
    fn wake_all(&self, word: &W);
}

/// The methods [`Word32`] and [`Word64`] share, for the atomic `$atomic` of
/// integer `$int` (see `forward_words`).
macro_rules! forward_load_store_fence {
    ($atomic:ty, $int:ty, $fence:path, $before_load:path) => {
        #[inline(always)]
        fn load(&self, order: Ordering) -> $int {
            $before_load(order);
            <$atomic>::load(self, order)
        }
        #[inline(always)]
        fn store(&self, value: $int, order: Ordering) {
            <$atomic>::store(self, value, order);
        }
        #[inline(always)]
        fn fence(order: Ordering) {
            $fence(order);
        }
    };
}

/// Implements [`Word32`] and [`Word64`] for a family of atomics by
/// forwarding to their own methods; `$before_load` runs before every load
/// with its ordering (the loom family's `SeqCst` fence, see the module
/// docs), `$fence` is the family's fence.
macro_rules! forward_words {
    ($u32:ty, $u64:ty, $fence:path, $before_load:path) => {
        impl Word32 for $u32 {
            forward_load_store_fence!($u32, u32, $fence, $before_load);
            #[inline(always)]
            fn fetch_add(&self, value: u32, order: Ordering) -> u32 {
                <$u32>::fetch_add(self, value, order)
            }
            #[inline(always)]
            fn fetch_sub(&self, value: u32, order: Ordering) -> u32 {
                <$u32>::fetch_sub(self, value, order)
            }
            #[inline(always)]
            fn compare_exchange(
                &self,
                current: u32,
                new: u32,
                success: Ordering,
                failure: Ordering,
            ) -> Result<u32, u32> {
                <$u32>::compare_exchange(self, current, new, success, failure)
            }
            #[inline(always)]
            fn compare_exchange_weak(
                &self,
                current: u32,
                new: u32,
                success: Ordering,
                failure: Ordering,
            ) -> Result<u32, u32> {
                <$u32>::compare_exchange_weak(self, current, new, success, failure)
            }
        }

        impl Word64 for $u64 {
            forward_load_store_fence!($u64, u64, $fence, $before_load);
            #[inline(always)]
            fn compare_exchange(
                &self,
                current: u64,
                new: u64,
                success: Ordering,
                failure: Ordering,
            ) -> Result<u64, u64> {
                <$u64>::compare_exchange(self, current, new, success, failure)
            }
        }
    };
}

/// Nothing before a load of the real atomics.
#[inline(always)]
fn plain_load(_order: Ordering) {}

forward_words!(AtomicU32, AtomicU64, std::sync::atomic::fence, plain_load);

/// The kernel's futex (`crate::sys`), on the words of a shared segment.
#[derive(Debug, Clone, Copy)]
pub struct KernelFutex;

impl Futex<AtomicU32> for KernelFutex {
    #[inline]
    fn wait_while(&self, word: &AtomicU32, value: u32, until: Option<Instant>) {
        crate::sys::wait_on(word, value, until);
    }
    #[inline]
    fn wake_all(&self, word: &AtomicU32) {
        crate::sys::wake_all(word);
    }
}

/// A past bug that [`mutated`] can put back into the real code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(not(loom), allow(dead_code))]
pub enum Mutation {
    /// `park_without_fence`: no `SeqCst` fence between counting a waiter
    /// parked and its last look (a lost wake-up).
    ParkWithoutFence,
    /// `lock_without_generations`: the senders' lock word names the
    /// holder's slot only, and a word naming our own slot is taken as ours
    /// (an ABA race: two senders in).
    LockWithoutGenerations,
    /// `join_without_token`: a broadcast reader joins by storing its head
    /// and then "attached", without the joining state and second look at
    /// the tail (the sender can overrun it).
    JoinWithoutToken,
    /// `relaxed_header_load`: the consumer loads the record header at its
    /// head (the in-band publication) with `Relaxed` (reads records not yet
    /// written). Layout version 2's `relaxed_tail_load`, when consumers
    /// polled the tail.
    RelaxedHeaderLoad,
    /// `marker_after_publish`: the producer writes the "unpublished" marker
    /// after the record it publishes only after the record's header (the
    /// consumer may then take an earlier lap's bytes there for a record).
    MarkerAfterPublish,
    /// `relaxed_oldest`: the lossy sender moves `oldest` with a Relaxed
    /// store and no fence before it overwrites (a lossy reader may take
    /// a torn record for an intact one).
    RelaxedOldest,
    /// `bell_look_before_announce`: a wait set takes its last look at its
    /// sources before announcing its doorbell on their lines instead of
    /// after (a lost wake-up: a publication in between rings nobody).
    BellLookBeforeAnnounce,
}

#[cfg(loom)]
impl Mutation {
    fn name(self) -> &'static str {
        match self {
            Mutation::ParkWithoutFence => "park_without_fence",
            Mutation::LockWithoutGenerations => "lock_without_generations",
            Mutation::JoinWithoutToken => "join_without_token",
            Mutation::RelaxedHeaderLoad => "relaxed_header_load",
            Mutation::MarkerAfterPublish => "marker_after_publish",
            Mutation::RelaxedOldest => "relaxed_oldest",
            Mutation::BellLookBeforeAnnounce => "bell_look_before_announce",
        }
    }
}

/// Whether `mutation` is on: only under `cfg(loom)`, when
/// `MEMLINK_MUTATION` names it.
#[cfg(loom)]
pub fn mutated(mutation: Mutation) -> bool {
    std::env::var("MEMLINK_MUTATION").is_ok_and(|m| m == mutation.name())
}

/// Whether `mutation` is on: never, outside loom builds.
#[cfg(not(loom))]
#[inline(always)]
pub const fn mutated(_mutation: Mutation) -> bool {
    false
}

/// The loom instantiation: loom's atomics, and a futex made of a mutex and
/// a condition variable (checked and slept on atomically, as the kernel
/// does under its hash-bucket lock). Parking has no timeout there: a lost
/// wake-up leaves a thread blocked for ever, which loom reports as a
/// deadlock.
#[cfg(loom)]
pub mod loom_impl {
    use super::{Futex, Word32, Word64};
    use loom::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};
    use loom::sync::{Condvar, Mutex};
    use std::time::Instant;

    /// A fence first for `SeqCst` loads (see the module docs).
    fn before_load(order: Ordering) {
        if order == Ordering::SeqCst {
            fence(Ordering::SeqCst);
        }
    }

    forward_words!(AtomicU32, AtomicU64, fence, before_load);

    /// The futex of the model.
    #[derive(Debug, Default)]
    pub struct ModelFutex {
        lock: Mutex<()>,
        sleepers: Condvar,
    }

    impl ModelFutex {
        /// A futex with no sleepers.
        pub fn new() -> ModelFutex {
            ModelFutex::default()
        }
    }

    impl Futex<AtomicU32> for ModelFutex {
        fn wait_while(&self, word: &AtomicU32, value: u32, _until: Option<Instant>) {
            let guard = self.lock.lock().unwrap();
            if AtomicU32::load(word, Ordering::SeqCst) != value {
                return;
            }
            drop(self.sleepers.wait(guard).unwrap());
        }
        fn wake_all(&self, _word: &AtomicU32) {
            let _guard = self.lock.lock().unwrap();
            self.sleepers.notify_all();
        }
    }
}
