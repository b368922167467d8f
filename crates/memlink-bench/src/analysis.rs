//! In-process measurements that explain memlink's figures rather than rank
//! it: what its copy loops and its receive buffer handling cost next to
//! `memcpy`, measured in the same run.
//!
//! memlink copies into and out of shared memory with relaxed atomic word
//! stores and loads (`bytes::store_shared` / `load_shared`, so that a
//! concurrent writer is never undefined behaviour), and `recv_into` first
//! zero-fills the destination with `Vec::resize`. These loops rebuild those
//! steps with the same operations (one relaxed 8-byte atomic access per
//! word), minus the per-word alignment branch, so they are an upper bound of
//! what the library's loops reach.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::Result;
use crate::harness::in_process_rate;
use crate::harness::Ctx;
use crate::stats::Throughput;

/// Which step to time.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Step {
    /// Relaxed atomic 8-byte stores of a buffer into "shared" words (the
    /// sender's copy in `send`).
    WordStore,
    /// Relaxed atomic 8-byte loads of "shared" words into a buffer (the
    /// receiver's copy in `recv_into`).
    WordLoad,
    /// `Vec::clear` + `Vec::resize(len, 0)`: the zero-fill `recv_into` does
    /// before copying.
    ZeroFill,
    /// `View::write_at` into a memlink mapping: the library's own
    /// `store_shared` loop (the one `send` uses).
    ViewWrite,
    /// `View::read_at` from a memlink mapping: the library's `load_shared`
    /// loop (the one `recv_into` uses).
    ViewRead,
}

/// Bytes moved per second by `step` on `size`-byte buffers.
pub(crate) fn copy_step(ctx: &Ctx, size: usize, step: Step) -> Result<Throughput> {
    let words: Vec<AtomicU64> = (0..size / 8).map(|i| AtomicU64::new(i as u64)).collect();
    let mut bytes = vec![0x3cu8; size];
    match step {
        Step::WordStore => in_process_rate(ctx, size, || {
            let src = std::hint::black_box(&bytes);
            for (w, chunk) in words.iter().zip(src.chunks_exact(8)) {
                let mut word = [0u8; 8];
                word.copy_from_slice(chunk);
                w.store(u64::from_ne_bytes(word), Ordering::Relaxed);
            }
        }),
        Step::WordLoad => in_process_rate(ctx, size, || {
            for (w, chunk) in words.iter().zip(bytes.chunks_exact_mut(8)) {
                chunk.copy_from_slice(&w.load(Ordering::Relaxed).to_ne_bytes());
            }
            std::hint::black_box(&mut bytes);
        }),
        Step::ViewWrite | Step::ViewRead => {
            let name = crate::process::unique_name("copyloop");
            let mapping = memlink::Mapping::create(&name, size as u64)?;
            let view = mapping.view_all()?;
            let mut result = Ok(());
            let t = in_process_rate(ctx, size, || {
                let r = if matches!(step, Step::ViewWrite) {
                    view.write_at(0, std::hint::black_box(&bytes))
                } else {
                    view.read_at(0, &mut bytes)
                };
                if let Err(e) = r {
                    result = Err(e);
                }
                std::hint::black_box(&mut bytes);
            });
            result?;
            t
        }
        Step::ZeroFill => {
            let mut buf: Vec<u8> = Vec::with_capacity(size);
            in_process_rate(ctx, size, || {
                buf.clear();
                buf.resize(size, 0);
                std::hint::black_box(&mut buf);
            })
        }
    }
}
