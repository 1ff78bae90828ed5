//! glibc's malloc settings in backends that load tally.
//!
//! Postgres pallocs a detoasted segment (hundreds of KiB to a few MiB) as one chunk of
//! its own, which glibc takes from fresh `mmap`s or trims back to the kernel when freed.
//! A dashboard scan detoasts a month of a site's segments (37 MB for a million events a
//! day), so every query faulted the same pages in again and the kernel zeroed them: a
//! tenth of the filtered dashboard's scan share (`benches/RESULTS.md`, eighth session).
//! Fixed thresholds keep up to [`TRIM_THRESHOLD`] of freed heap per backend for the
//! next query and still give larger frees, and chunks from [`MMAP_THRESHOLD`] up, back.
//! The extension's own Rust allocations go through mimalloc instead (see lib.rs).

/// Chunks of at least this many bytes get a mapping of their own, unmapped when freed.
const MMAP_THRESHOLD: i32 = 32 << 20;

/// Free memory at the top of the heap beyond this many bytes goes back to the kernel.
const TRIM_THRESHOLD: i32 = 64 << 20;

/// Sets the thresholds for this process; backends forked from a postmaster that
/// preloads tally inherit them.
pub fn keep_freed_memory() {
    // SAFETY: mallopt only changes parameters of glibc's allocator, and Postgres calls
    // _PG_init on its single thread.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
        libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD);
    }
}
