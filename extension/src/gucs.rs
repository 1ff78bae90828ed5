//! Every setting of the extension, each with why it exists. Set them in
//! postgresql.conf (`tally.*`); the worker re-reads them on SIGHUP.

use std::ffi::{CStr, CString};

use pgrx::{GucContext, GucFlags, GucRegistry, GucSetting};

/// Database the background worker compacts; empty disables the worker. One database
/// per cluster keeps the worker count fixed (Postgres needs it at start-up).
pub static WORKER_DATABASE: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(Some(c"tally"));

/// Milliseconds between compaction passes. Short enough that the hot table stays
/// small (queries on it are row-at-a-time), long enough that each pass moves a batch.
pub static COMPACTION_INTERVAL_MS: GucSetting<i32> = GucSetting::<i32>::new(5_000);

/// Segments of one size tier of a (site, day) that trigger a merge (also the tier base,
/// see `storage::compact::merge_days`): each pass adds a
/// segment per active site-day, and many small segments compress worse and scan slower.
pub static MERGE_THRESHOLD: GucSetting<i32> = GucSetting::<i32>::new(8);

/// Threads that encode segments during compaction. Encoding is most of compaction's
/// CPU and needs no Postgres state, so it scales with cores; the default of 2 leaves
/// the rest of a small machine to ingest and queries.
pub static COMPACTION_THREADS: GucSetting<i32> = GucSetting::<i32>::new(2);

/// Rows `tally.import_events` reads before encoding them, while it reads the next
/// ones. Columns take about 200 bytes a row, and the chunk being read and the one being
/// encoded may each also hold up to a chunk of rows waiting for the next (a site's last
/// day, still open): 500,000 rows hold ~400 MB at most and cover a day of a 10M-event
/// month, so most site-days are encoded once, whole.
pub static IMPORT_CHUNK_ROWS: GucSetting<i32> = GucSetting::<i32>::new(500_000);

/// Threads one `tally.query` scans segments with. The scan is pure Rust over
/// detoasted bytes, so a query on a large site finishes in about 1/n of the time on an
/// otherwise idle machine; 1 keeps every query on its backend's core.
pub static QUERY_THREADS: GucSetting<i32> = GucSetting::<i32>::new(2);

/// Megabytes one statement's scans may hold in Rust memory (group tables, distinct
/// visitors, visits gathered across segments, decoded batches): a query with millions
/// of groups is stopped with an error instead of growing its backend until the machine
/// runs out. A month of a site with a million events a day takes about 200 MB. Only a
/// superuser may change it, so a viewer cannot lift their own limit.
pub static QUERY_MEMORY_MB: GucSetting<i32> = GucSetting::<i32>::new(1024);

/// Megabytes of segment bytes each backend keeps between queries
/// (`tally_core::segment::SegmentCache`): a dashboard asks about the same site and range
/// again and again, and reading a month of a large site out of TOAST is about a tenth
/// of its scan. 64 MB holds a month of a site with a million events a day; every pooled
/// connection of the gateway may hold that much. 0 turns the cache off.
pub static SEGMENT_CACHE_MB: GucSetting<i32> = GucSetting::<i32>::new(64);

/// Milliseconds the memory a scan freed stays with its backend before going back to
/// the kernel (mimalloc's purge delay; -1 keeps it for good). A month of a large site
/// takes about 200 MB; faulting it in again, zeroed, cost a dashboard click up to a
/// third of its time when the last one was more than mimalloc's default second ago.
/// mimalloc purges only when the backend allocates again, so an idle backend holds its
/// memory whatever this says: the delay decides whether a user back after a pause
/// (10 minutes here) finds it still mapped. The gateway sends scans to the same few
/// connections (`routes::query`), so few backends hold scan memory at all.
pub static SCAN_MEMORY_KEEP_MS: GucSetting<i32> = GucSetting::<i32>::new(600_000);

/// Whether `tally.query` answers eligible queries from the hourly rollups (see
/// `tally_core::query::RollupPlan`). On by default; off forces the full scan, which
/// benchmarks and tests compare against.
pub static QUERY_ROLLUPS: GucSetting<bool> = GucSetting::<bool>::new(true);

/// Whether aggregates over `tally.events` are computed inside the scan (TallyAgg) when
/// the query's shape allows. On by default; off leaves them to Postgres above
/// TallyScan, which benchmarks compare against.
pub static SCAN_AGGREGATES: GucSetting<bool> = GucSetting::<bool>::new(true);

/// The rollup path is taken only where the range holds at least this many events per
/// rollup row it would read: a row (its sketch decoded and unioned) costs about as much
/// as 30 to 100 scanned events, so a high-cardinality dimension (pages, countries) over
/// hourly rows is faster to scan on small sites. 0 takes every eligible query.
pub static QUERY_ROLLUP_MIN_EVENTS_PER_ROW: GucSetting<i32> = GucSetting::<i32>::new(50);

/// Seconds between the worker's retention passes. Retention works in whole days, so
/// there is no point in checking more often than a few times an hour.
pub static RETENTION_INTERVAL_S: GucSetting<i32> = GucSetting::<i32>::new(600);

/// Narrows what row-level security shows to one site id (empty: no narrowing). The
/// gateway sets it for API keys limited to one site. It only ever removes sites from
/// what the current role may see, so anyone may set it; it is no identity.
pub static SITE_SCOPE: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);

/// postgresql-hll's session defaults (its `hll_set_defaults`): the parameters of an
/// `hll_empty`, `hll_add_agg` or `hll(...)` column type given fewer than four. Backend
/// state as postgresql-hll's globals are (a ROLLBACK keeps them, `SET` cannot change
/// them: see `sketch/hll_settings.rs`), held in settings so that parallel workers get
/// the leader's values, which postgresql-hll's workers do not.
pub static HLL_DEFAULT_LOG2M: GucSetting<i32> = GucSetting::<i32>::new(11);
pub static HLL_DEFAULT_REGWIDTH: GucSetting<i32> = GucSetting::<i32>::new(5);
/// -1 (automatic), 0 or a power of 2 (checked where it is used).
pub static HLL_DEFAULT_EXPTHRESH: GucSetting<i32> = GucSetting::<i32>::new(-1);
pub static HLL_DEFAULT_SPARSEON: GucSetting<i32> = GucSetting::<i32>::new(1);
/// postgresql-hll's `hll_set_max_sparse`: registers are stored sparse while at most
/// this many are filled; -1 stores them sparse whenever that is smaller.
pub static HLL_MAX_SPARSE: GucSetting<i32> = GucSetting::<i32>::new(-1);

pub fn init() {
    define_hll_gucs();
    GucRegistry::define_string_guc(
        c"tally.site_scope",
        c"Limits row-level security to this site id (empty: every site of the current role).",
        c"Narrows only: it never shows a site the current role may not see.",
        &SITE_SCOPE,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_string_guc(
        c"tally.worker_database",
        c"Database whose events the tally background worker compacts (empty: no worker).",
        c"Needs a restart to change.",
        &WORKER_DATABASE,
        GucContext::Postmaster,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"tally.compaction_interval_ms",
        c"Milliseconds between compaction passes of the background worker.",
        c"",
        &COMPACTION_INTERVAL_MS,
        100,
        3_600_000,
        GucContext::Sighup,
        GucFlags::UNIT_MS,
    );
    GucRegistry::define_int_guc(
        c"tally.retention_interval_s",
        c"Seconds between the background worker's retention passes.",
        c"",
        &RETENTION_INTERVAL_S,
        10,
        86_400,
        GucContext::Sighup,
        GucFlags::UNIT_S,
    );
    GucRegistry::define_int_guc(
        c"tally.compaction_threads",
        c"Threads compaction encodes and merges segments and computes rollup hours with.",
        c"",
        &COMPACTION_THREADS,
        1,
        64,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"tally.import_chunk_rows",
        c"Rows tally.import_events reads before encoding them, while it reads the next.",
        c"About 200 bytes a row, up to four chunks at once.",
        &IMPORT_CHUNK_ROWS,
        1_000,
        4_000_000,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"tally.query_threads",
        c"Threads one tally.query scans segments with, and that decode an aggregation over tally.events.",
        c"Small queries use one thread whatever this says; an aggregation over tally.events uses at most two.",
        &QUERY_THREADS,
        1,
        64,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"tally.query_memory_mb",
        c"Megabytes of memory the scans of one statement may hold before it fails.",
        c"Counts the extension's own (Rust) memory: group tables, distinct visitors, decoded batches.",
        &QUERY_MEMORY_MB,
        16,
        1 << 20,
        GucContext::Suset,
        GucFlags::UNIT_MB,
    );
    GucRegistry::define_int_guc(
        c"tally.segment_cache_mb",
        c"Megabytes of segment bytes each backend keeps for its next queries (0: none).",
        c"Each connection keeps its own; the gateway's pool holds up to this much per connection.",
        &SEGMENT_CACHE_MB,
        0,
        65_536,
        GucContext::Userset,
        GucFlags::UNIT_MB,
    );
    GucRegistry::define_int_guc(
        c"tally.scan_memory_keep_ms",
        c"Milliseconds memory freed by a scan stays with the backend for its next queries (-1: for good).",
        c"Checked when the backend next allocates: an idle backend keeps its memory until then.",
        &SCAN_MEMORY_KEEP_MS,
        -1,
        3_600_000,
        GucContext::Userset,
        GucFlags::UNIT_MS,
    );
    GucRegistry::define_bool_guc(
        c"tally.query_rollups",
        c"Whether tally.query answers eligible queries from the hourly rollups.",
        c"Off forces a scan of the raw events (exact visitors, slower).",
        &QUERY_ROLLUPS,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_bool_guc(
        c"tally.scan_aggregates",
        c"Computes aggregates over tally.events inside its scan where the query allows.",
        c"Off leaves every aggregate to Postgres's own Agg node above the scan.",
        &SCAN_AGGREGATES,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"tally.query_rollup_min_events_per_row",
        c"Events per rollup row a range needs for tally.query to answer it from rollups.",
        c"0 answers every eligible query from rollups.",
        &QUERY_ROLLUP_MIN_EVENTS_PER_ROW,
        0,
        1_000_000,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"tally.merge_threshold",
        c"Segments of one size tier of a site and day that trigger a merge.",
        c"",
        &MERGE_THRESHOLD,
        2,
        10_000,
        GucContext::Userset,
        GucFlags::default(),
    );
}

fn define_hll_gucs() {
    let ints: [(&'static CStr, &'static CStr, &'static GucSetting<i32>, i32, i32); 5] = [
        (c"tally.hll_default_log2m", c"log2m of hll values made without one (hll_set_defaults).", &HLL_DEFAULT_LOG2M, 0, 17),
        (c"tally.hll_default_regwidth", c"regwidth of hll values made without one (hll_set_defaults).", &HLL_DEFAULT_REGWIDTH, 1, 7),
        (
            c"tally.hll_default_expthresh",
            c"expthresh of hll values made without one: -1 (auto), 0 or a power of 2 (hll_set_defaults).",
            &HLL_DEFAULT_EXPTHRESH,
            -1,
            16_383,
        ),
        (c"tally.hll_default_sparseon", c"sparseon of hll values made without one (hll_set_defaults).", &HLL_DEFAULT_SPARSEON, 0, 1),
        (
            c"tally.hll_max_sparse",
            c"Filled registers up to which hll values are stored sparse; -1: whenever smaller (hll_set_max_sparse).",
            &HLL_MAX_SPARSE,
            -1,
            i32::MAX,
        ),
    ];
    // Backend context: only `hll_set_*` (or the server's configuration and connection
    // options) change them, so that no `SET` of a transaction can stand in their way.
    for (name, short, setting, min, max) in ints {
        GucRegistry::define_int_guc(name, short, c"", setting, min, max, GucContext::Backend, GucFlags::default());
    }
}
