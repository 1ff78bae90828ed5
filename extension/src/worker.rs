//! The background worker: compacts hot rows every `tally.compaction_interval_ms`,
//! builds the daily and weekly rollups of days that have settled, and applies retention every `tally.retention_interval_s` in `tally.worker_database`. pg_cron's one-minute granularity is too coarse for a hot
//! table taking 300k rows a second, hence a worker of our own.

use std::time::{Duration, Instant};

use pgrx::bgworkers::{BackgroundWorker, BackgroundWorkerBuilder, SignalWakeFlags};
use pgrx::prelude::*;
use pgrx::spi::SpiClient;

use crate::storage::{compact, retention};
use crate::{gucs, rollup};

/// Daily rollups built per pass at most (a day of the bench's 3.1M-event site takes
/// about a tenth of a second), so a backfill does not hold up compaction.
const DAILY_DAYS_PER_PASS: i64 = 4;

/// Registers the worker; called from `_PG_init` while shared libraries preload.
pub fn register() {
    let enabled = gucs::WORKER_DATABASE.get().is_some_and(|db| !db.as_bytes().is_empty());
    if !enabled {
        return;
    }
    BackgroundWorkerBuilder::new("tally compaction")
        .set_type("tally compaction")
        .set_library("tally")
        .set_function("tally_worker_main")
        .enable_spi_access()
        // After an error (say the database does not exist yet), try again shortly.
        .set_restart_time(Some(Duration::from_secs(10)))
        .load();
}

#[pg_guard]
#[unsafe(no_mangle)]
pub extern "C-unwind" fn tally_worker_main(_arg: pg_sys::Datum) {
    BackgroundWorker::attach_signal_handlers(SignalWakeFlags::SIGHUP | SignalWakeFlags::SIGTERM);
    let database = gucs::WORKER_DATABASE.get().map(|d| d.to_string_lossy().into_owned()).unwrap_or_default();
    BackgroundWorker::connect_worker_to_spi(Some(&database), None);
    log!("tally compaction worker started on database {database}");
    let mut last_retention: Option<Instant> = None;
    loop {
        let interval = Duration::from_millis(gucs::COMPACTION_INTERVAL_MS.get().max(100) as u64);
        if !BackgroundWorker::wait_latch(Some(interval)) {
            break;
        }
        if BackgroundWorker::sighup_received() {
            unsafe { pg_sys::ProcessConfigFile(pg_sys::GucContext::PGC_SIGHUP) };
        }
        // A standby replays the primary's compaction from WAL; it has nothing to do.
        if unsafe { pg_sys::RecoveryInProgress() } {
            continue;
        }
        let retention_due = Duration::from_secs(gucs::RETENTION_INTERVAL_S.get().max(10) as u64);
        let run_retention = last_retention.is_none_or(|t: Instant| t.elapsed() >= retention_due);
        BackgroundWorker::transaction(|| {
            Spi::connect_mut(|client| {
                if installed_and_locked(client) {
                    compact::compact(client, false);
                }
            })
        });
        // Retention in a transaction of its own: the compaction transaction holds the
        // drained hot partitions, which writers reach again a few slots later, so it
        // commits before retention's deletes and rollup recomputations begin.
        if run_retention {
            let retention_ran = BackgroundWorker::transaction(|| {
                Spi::connect_mut(|client| {
                    let locked = installed_and_locked(client);
                    if locked {
                        retention::apply(client);
                    }
                    locked
                })
            });
            if retention_ran {
                last_retention = Some(Instant::now());
            }
        }
        // Daily and weekly rollups in a transaction of their own: compaction has
        // committed whatever happens here, and does not wait for the sums.
        BackgroundWorker::transaction(|| {
            Spi::connect_mut(|client| {
                if installed_and_locked(client) {
                    rollup::periods::build(client, DAILY_DAYS_PER_PASS);
                }
            })
        });
    }
    log!("tally compaction worker stopped");
}

/// Whether the extension exists in the worker's database and the storage lock was
/// free (a manual `tally.compact()` holds it: this pass has nothing to add), taking it
/// for the transaction.
fn installed_and_locked(client: &SpiClient) -> bool {
    let installed = client
        .select("SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'tally'", None, &[])
        .map(|rows| !rows.is_empty())
        .unwrap_or(false);
    installed
        && client
            .select("SELECT pg_catalog.pg_try_advisory_xact_lock($1)", None, &[compact::STORAGE_LOCK.into()])
            .ok()
            .and_then(|rows| rows.first().get_one::<bool>().ok().flatten())
            .unwrap_or(false)
}
