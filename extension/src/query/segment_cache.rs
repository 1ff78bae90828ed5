//! This backend's [`SegmentCache`]: a scan takes a segment's bytes from it when the
//! segment's row (id and version, as the scan's own snapshot and row-level security
//! return it) was read before, and detoasts and keeps them otherwise.

use std::cell::RefCell;
use std::sync::Arc;

use tally_core::segment::{SegmentBytes, SegmentCache, SegmentReader};

use crate::gucs;

/// A segment's row: `segment_id` and `xmin`, which changes whenever the row (its bytes)
/// is rewritten.
pub(crate) type Key = (i64, i64);

thread_local! {
    // Only the backend's own thread loads segments (detoasting needs it).
    static CACHE: RefCell<SegmentCache<Key>> = RefCell::new(SegmentCache::new(0));
}

/// A segment's bytes for one scan: the cache's, or the detoasted datum (valid until
/// the scan's SPI connection ends) when the cache does not keep them.
pub(crate) enum Loaded<'a> {
    Cached(Arc<[u8]>),
    Detoasted(&'a [u8]),
}

/// Applies `tally.segment_cache_mb` (a scan calls this first; it may have changed).
pub(crate) fn configure() {
    let bytes = gucs::SEGMENT_CACHE_MB.get().max(0) as usize * 1024 * 1024;
    CACHE.with_borrow_mut(|cache| cache.set_capacity(bytes));
}

impl Loaded<'_> {
    /// The bytes, with whether they were verified: the cache's were when it kept them.
    pub(crate) fn bytes(&self) -> SegmentBytes<'_> {
        match self {
            Loaded::Cached(bytes) => SegmentBytes { bytes, verified: true },
            Loaded::Detoasted(bytes) => SegmentBytes { bytes, verified: false },
        }
    }
}

/// The bytes of the segment `key`, from the cache or from `detoast` (kept when they fit
/// and their checksum is right; otherwise opening them reports the error).
pub(crate) fn load<'a>(key: Key, detoast: impl FnOnce() -> &'a [u8]) -> Loaded<'a> {
    CACHE.with_borrow_mut(|cache| {
        if let Some(bytes) = cache.get(&key) {
            return Loaded::Cached(bytes);
        }
        let bytes = detoast();
        if bytes.len() > cache.capacity() || SegmentReader::verify(bytes).is_err() {
            // Not kept (the cache is off or too small, or the bytes are corrupt): no copy.
            return Loaded::Detoasted(bytes);
        }
        let kept: Arc<[u8]> = bytes.into();
        cache.insert(key, Arc::clone(&kept));
        Loaded::Cached(kept)
    })
}
