//! How long a backend keeps the memory its scans freed, for glibc's malloc (Postgres's
//! own memory) and for mimalloc (the extension's Rust code).
//!
//! Postgres pallocs a detoasted segment (hundreds of KiB to a few MiB) as one chunk of
//! its own, which glibc takes from fresh `mmap`s or trims back to the kernel when freed.
//! A dashboard scan detoasts a month of a site's segments (37 MB for a million events a
//! day), so every query faulted the same pages in again and the kernel zeroed them: a
//! tenth of the filtered dashboard's scan share (`benches/RESULTS.md`, eighth session).
//! Fixed thresholds keep up to [`TRIM_THRESHOLD`] of freed heap per backend for the
//! next query and still give larger frees, and chunks from [`MMAP_THRESHOLD`] up, back.
//!
//! mimalloc gives pages back a second after they are freed by default, and a
//! dashboard's next click comes seconds later: perf of the dashboard bench showed the
//! scan share zeroing pages again (`clear_page_erms`, up to 180 CPU-ms of a 390 ms call)
//! on backends that had scanned the same range before. `tally.scan_memory_keep_ms`
//! sets that delay.

use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicUsize, Ordering};

use mimalloc::MiMalloc;

/// Chunks of at least this many bytes get a mapping of their own, unmapped when freed.
const MMAP_THRESHOLD: i32 = 32 << 20;

/// Free memory at the top of the heap beyond this many bytes goes back to the kernel.
const TRIM_THRESHOLD: i32 = 64 << 20;

/// `mi_option_purge_delay` in mimalloc.h's `mi_option_e` (the Rust bindings name only
/// some options); it has been 15 since mimalloc 2.0, v3 included.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Sets glibc's thresholds for this process; backends forked from a postmaster that
/// preloads tally inherit them.
pub fn keep_freed_memory() {
    // SAFETY: mallopt only changes parameters of glibc's allocator, and Postgres calls
    // _PG_init on its single thread.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
        libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD);
    }
}

/// Applies `tally.scan_memory_keep_ms` to mimalloc (a scan calls this first; the
/// setting may have changed since the last one).
pub fn keep_scan_memory() {
    let ms = crate::gucs::SCAN_MEMORY_KEEP_MS.get();
    // SAFETY: mi_option_set stores one option value; mimalloc reads it when it purges.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, std::ffi::c_long::from(ms)) }
}

/// The extension's allocator: mimalloc, counting the bytes Rust code holds, so that a
/// scan can be stopped when it holds more than `tally.query_memory_mb` (see
/// `query::interrupts`). A backend runs one statement at a time, so the process-wide
/// count is that statement's (its scan threads included). One relaxed atomic add per
/// allocation: the kernels allocate per batch, not per row.
pub struct Counted;

static LIVE: AtomicUsize = AtomicUsize::new(0);

/// Bytes the extension's Rust code holds now.
pub fn live_bytes() -> usize {
    LIVE.load(Ordering::Relaxed)
}

// SAFETY: every call forwards to mimalloc with the same arguments; the count is a side
// effect only.
unsafe impl GlobalAlloc for Counted {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        unsafe { MiMalloc.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        unsafe { MiMalloc.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { MiMalloc.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let moved = unsafe { MiMalloc.realloc(ptr, layout, new_size) };
        if !moved.is_null() {
            LIVE.fetch_add(new_size, Ordering::Relaxed);
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        }
        moved
    }
}
