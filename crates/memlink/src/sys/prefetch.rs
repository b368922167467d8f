//! Cache-line prefetch hints. A ring's producer and consumer run on
//! different cores, so every line one of them writes is a cross-core
//! transfer for the other: asking for the next lines early overlaps those
//! transfers instead of paying them one after the other.
//!
//! Only x86-64 and AArch64 have one here; elsewhere the hints do nothing.

// The one instruction each hint is, in inline assembly.
#![allow(unsafe_code)]

/// Asks the CPU to bring the cache line holding `ptr` in for reading.
#[inline(always)]
pub(crate) fn prefetch_read(ptr: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint: it never faults, whatever the address,
    // and changes no memory or flags.
    unsafe {
        std::arch::asm!("prefetcht0 [{0}]", in(reg) ptr, options(nostack, readonly, preserves_flags));
    }
    #[cfg(target_arch = "aarch64")]
    // SAFETY: as above (PRFM never faults).
    unsafe {
        std::arch::asm!("prfm pldl1keep, [{0}]", in(reg) ptr, options(nostack, readonly, preserves_flags));
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    let _ = ptr;
}

/// Asks the CPU to bring the cache line holding `ptr` in for writing (taking
/// it from other cores' caches). On x86-64 CPUs without `PREFETCHW` the
/// instruction is a no-op.
#[inline(always)]
pub(crate) fn prefetch_write(ptr: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: as in `prefetch_read`.
    unsafe {
        std::arch::asm!("prefetchw [{0}]", in(reg) ptr, options(nostack, readonly, preserves_flags));
    }
    #[cfg(target_arch = "aarch64")]
    // SAFETY: as in `prefetch_read`.
    unsafe {
        std::arch::asm!("prfm pstl1keep, [{0}]", in(reg) ptr, options(nostack, readonly, preserves_flags));
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    let _ = ptr;
}
