//! Copies in and out of memory that other threads or processes may write at
//! the same time.
//!
//! Plain `memcpy` over bytes that another thread writes concurrently is a data
//! race, which Rust leaves undefined. These copies are made of relaxed atomic
//! loads and stores instead (whole words in the middle, bytes at the edges):
//! they compile to ordinary moves, and a concurrent writer can at worst make
//! the result a mix of old and new bytes. Ordering (who sees what, when) is
//! the caller's business, with fences or acquire/release on a separate word.
#![allow(unsafe_code)]

use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

const WORD: usize = std::mem::size_of::<usize>();

/// Copies shared bytes at `src` into `dst` with relaxed atomic loads.
///
/// # Safety
///
/// `src..src + dst.len()` must be mapped and readable for the whole call.
pub(crate) unsafe fn load_shared(src: *const u8, dst: &mut [u8]) {
    let mut i = 0;
    while i < dst.len() {
        // SAFETY: `i < dst.len()`, so `src + i` is inside the range.
        let at = unsafe { src.add(i) };
        if at as usize % WORD == 0 && dst.len() - i >= WORD {
            // SAFETY: aligned and in range; read atomically.
            let word = unsafe { AtomicUsize::from_ptr(at as *mut usize) }.load(Ordering::Relaxed);
            dst[i..i + WORD].copy_from_slice(&word.to_ne_bytes());
            i += WORD;
        } else {
            // SAFETY: in range; byte atomics need no alignment.
            dst[i] = unsafe { AtomicU8::from_ptr(at as *mut u8) }.load(Ordering::Relaxed);
            i += 1;
        }
    }
}

/// Copies `src` into shared bytes at `dst` with relaxed atomic stores.
///
/// # Safety
///
/// `dst..dst + src.len()` must be mapped and writable for the whole call.
pub(crate) unsafe fn store_shared(dst: *mut u8, src: &[u8]) {
    let mut i = 0;
    while i < src.len() {
        // SAFETY: `i < src.len()`, so `dst + i` is inside the range.
        let at = unsafe { dst.add(i) };
        if at as usize % WORD == 0 && src.len() - i >= WORD {
            let mut word = [0u8; WORD];
            word.copy_from_slice(&src[i..i + WORD]);
            // SAFETY: aligned and in range; written atomically.
            unsafe { AtomicUsize::from_ptr(at.cast::<usize>()) }
                .store(usize::from_ne_bytes(word), Ordering::Relaxed);
            i += WORD;
        } else {
            // SAFETY: in range; byte atomics need no alignment.
            unsafe { AtomicU8::from_ptr(at) }.store(src[i], Ordering::Relaxed);
            i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_copies_round_trip_at_every_alignment() {
        let mut backing = vec![0u64; 64];
        let base = backing.as_mut_ptr().cast::<u8>();
        for start in 0..16 {
            for len in [0, 1, 7, 8, 9, 31, 100] {
                let data: Vec<u8> = (0..len).map(|i| (i * 7 + start) as u8).collect();
                // SAFETY: `start + len <= 116 < 512`, inside `backing`.
                unsafe { store_shared(base.add(start), &data) };
                let mut out = vec![0u8; len];
                // SAFETY: as above.
                unsafe { load_shared(base.add(start), &mut out) };
                assert_eq!(out, data, "start {start} len {len}");
            }
        }
    }
}
