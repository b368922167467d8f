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

use std::sync::atomic::{AtomicU64, AtomicU8, AtomicUsize, Ordering};

const WORD: usize = std::mem::size_of::<usize>();

/// Splits `len` bytes at `addr` into a byte-wise head up to the first word
/// boundary, a whole number of words, and a byte-wise tail.
fn split(addr: usize, len: usize) -> (usize, usize, usize) {
    let head = addr.wrapping_neg() % WORD;
    if head >= len {
        return (len, 0, 0);
    }
    let words = (len - head) / WORD;
    (head, words, len - head - words * WORD)
}

/// Copies shared bytes at `src` into `dst` with relaxed atomic loads.
///
/// # Safety
///
/// `src..src + dst.len()` must be mapped and readable for the whole call.
pub(crate) unsafe fn load_shared(src: *const u8, dst: &mut [u8]) {
    let (head, words, _) = split(src as usize, dst.len());
    let (dst_head, rest) = dst.split_at_mut(head);
    let (dst_words, dst_tail) = rest.split_at_mut(words * WORD);
    for (i, byte) in dst_head.iter_mut().enumerate() {
        // SAFETY: `i < head <= len`: in range; byte atomics need no alignment.
        *byte = unsafe { AtomicU8::from_ptr(src.add(i).cast_mut()) }.load(Ordering::Relaxed);
    }
    // SAFETY: `src + head` is word-aligned (see `split`) and in range.
    let src_words = unsafe { src.add(head) }.cast::<usize>();
    for (i, chunk) in dst_words.chunks_exact_mut(WORD).enumerate() {
        // SAFETY: word `i < words` lies inside the range and is aligned.
        let word =
            unsafe { AtomicUsize::from_ptr(src_words.add(i).cast_mut()) }.load(Ordering::Relaxed);
        chunk.copy_from_slice(&word.to_ne_bytes());
    }
    // SAFETY: the tail follows the words, inside the range.
    let src_tail = unsafe { src.add(head + words * WORD) };
    for (i, byte) in dst_tail.iter_mut().enumerate() {
        // SAFETY: in range; byte atomics need no alignment.
        *byte = unsafe { AtomicU8::from_ptr(src_tail.add(i).cast_mut()) }.load(Ordering::Relaxed);
    }
}

/// Copies `src` into shared bytes at `dst` with relaxed atomic stores.
///
/// # Safety
///
/// `dst..dst + src.len()` must be mapped and writable for the whole call.
pub(crate) unsafe fn store_shared(dst: *mut u8, src: &[u8]) {
    let (head, words, _) = split(dst as usize, src.len());
    let (src_head, rest) = src.split_at(head);
    let (src_words, src_tail) = rest.split_at(words * WORD);
    for (i, &byte) in src_head.iter().enumerate() {
        // SAFETY: `i < head <= len`: in range; byte atomics need no alignment.
        unsafe { AtomicU8::from_ptr(dst.add(i)) }.store(byte, Ordering::Relaxed);
    }
    // SAFETY: `dst + head` is word-aligned (see `split`) and in range.
    let dst_words = unsafe { dst.add(head) }.cast::<usize>();
    for (i, chunk) in src_words.chunks_exact(WORD).enumerate() {
        let mut word = [0u8; WORD];
        word.copy_from_slice(chunk);
        // SAFETY: word `i < words` lies inside the range and is aligned.
        unsafe { AtomicUsize::from_ptr(dst_words.add(i)) }
            .store(usize::from_ne_bytes(word), Ordering::Relaxed);
    }
    // SAFETY: the tail follows the words, inside the range.
    let dst_tail = unsafe { dst.add(head + words * WORD) };
    for (i, &byte) in src_tail.iter().enumerate() {
        // SAFETY: in range; byte atomics need no alignment.
        unsafe { AtomicU8::from_ptr(dst_tail.add(i)) }.store(byte, Ordering::Relaxed);
    }
}

/// Copies `dst.len()` shared bytes at the word-aligned `src` with relaxed
/// 8-byte atomic loads only, reading the last word whole even when `dst`
/// needs only part of it. Racing copies of one ring must use one access size
/// for the same bytes; these are for records, which are padded to 8 bytes.
///
/// # Safety
///
/// `src` must be 8-byte aligned, and `src..src + round_up(dst.len(), 8)` mapped
/// and readable for the whole call.
pub(crate) unsafe fn load_shared_words(src: *const u8, dst: &mut [u8]) {
    let words = src.cast::<u64>();
    for (i, chunk) in dst.chunks_mut(8).enumerate() {
        // SAFETY: word `i` starts below `dst.len()` and lies within the
        // rounded-up range; aligned because `src` is.
        let word = unsafe { AtomicU64::from_ptr(words.add(i).cast_mut()) }.load(Ordering::Relaxed);
        chunk.copy_from_slice(&word.to_ne_bytes()[..chunk.len()]);
    }
}

/// Copies `src` to the word-aligned shared `dst` with relaxed 8-byte atomic
/// stores only, zero-padding the last word (see [`load_shared_words`]).
///
/// # Safety
///
/// `dst` must be 8-byte aligned, and `dst..dst + round_up(src.len(), 8)` mapped
/// and writable for the whole call.
pub(crate) unsafe fn store_shared_words(dst: *mut u8, src: &[u8]) {
    let words = dst.cast::<u64>();
    for (i, chunk) in src.chunks(8).enumerate() {
        let mut word = [0u8; 8];
        word[..chunk.len()].copy_from_slice(chunk);
        // SAFETY: word `i` starts below `src.len()` and lies within the
        // rounded-up range; aligned because `dst` is.
        unsafe { AtomicU64::from_ptr(words.add(i)) }
            .store(u64::from_ne_bytes(word), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_copies_round_trip_and_pad_with_zeros() {
        let mut backing = vec![u64::MAX; 8];
        let base = backing.as_mut_ptr().cast::<u8>();
        for len in [0usize, 1, 7, 8, 9, 20, 64] {
            let data: Vec<u8> = (0..len).map(|i| i as u8 + 1).collect();
            // SAFETY: aligned, and round_up(len, 8) <= 64 bytes of `backing`.
            unsafe { store_shared_words(base, &data) };
            let mut out = vec![0u8; len];
            // SAFETY: as above.
            unsafe { load_shared_words(base, &mut out) };
            assert_eq!(out, data);
            let padded = len.div_ceil(8) * 8;
            // SAFETY: inside `backing`.
            let pad = unsafe { std::slice::from_raw_parts(base.add(len), padded - len) };
            assert!(pad.iter().all(|&b| b == 0), "len {len}");
        }
    }

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
