//! One pass over the batches of a time range: decode what the plan needs, filter on
//! codes, aggregate complete visits in place, gather the rest and aggregate them last.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, PoisonError};

use crate::interrupt::{self, Cancelled, Interrupt};
use crate::segment::{SegmentBytes, SegmentError, SegmentReader};

use super::batch::{Batch, Undecoded};
use super::funnel::FunnelState;
use super::intern::Interner;
use super::kernel::{Acc, Derived, ViewState, ENGAGEMENT, PAGEVIEW};
use super::plan::{Expr, Key, Plan, NAME};
use super::window::Window;

/// The instants a query covers, µs since the epoch: `from <= ts < to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    pub from_us: i64,
    pub to_us: i64,
}

/// A group's key component, resolved.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyValue {
    Text(Option<String>),
    /// Index of the time bucket.
    Bucket(u32),
    /// Index of the goal.
    Goal(u32),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub key: Vec<KeyValue>,
    pub acc: Acc,
    pub visitors: u64,
}

/// Why a scan gave no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScanError {
    /// The batch of this index cannot be decoded (the lowest such index).
    #[error("batch {0}: {1}")]
    Corrupt(usize, SegmentError),
    #[error(transparent)]
    Cancelled(#[from] Cancelled),
}

/// The threads a scan may use and how its caller stops it.
#[derive(Clone, Copy)]
pub struct Workers<'a> {
    /// Most threads, the caller's included.
    pub threads: usize,
    /// Runs first on every spawned thread (Postgres blocks signals there).
    pub on_thread: fn(),
    /// Checked on the caller's thread between batches and views; see [`crate::interrupt`].
    pub interrupted: Interrupt<'a>,
}

impl Workers<'_> {
    /// `threads` threads for work nobody cancels.
    pub fn uninterrupted(threads: usize, on_thread: fn()) -> Workers<'static> {
        Workers { threads, on_thread, interrupted: &interrupt::never }
    }
}

/// Groups of every view of the plan, in view order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub views: Vec<Vec<Group>>,
    /// Distinct visitors reaching each funnel step; empty without a funnel.
    pub funnel: Vec<u64>,
}

/// A view filter evaluated over one batch ([`Scan::process`]): the rows passing it,
/// whether it tests only values of the visit, and the complete visits with a row passing.
struct Filtered<'p> {
    filter: Option<&'p Expr>,
    mask: Vec<bool>,
    per_visit: bool,
    visits: Vec<(usize, std::ops::Range<usize>)>,
}

pub struct Scan<'p> {
    plan: &'p Plan,
    range: TimeRange,
    bucket_starts: Option<Vec<i64>>,
    zones: Vec<(i64, i64)>,
    interners: Vec<Interner>,
    /// Per filter leaf: its result for each code of its source so far.
    memos: Vec<Vec<bool>>,
    gathered: Batch,
    states: Vec<ViewState>,
    funnel: FunnelState,
}

impl<'p> Scan<'p> {
    /// A scan of `range` over batches whose time ranges (min, max, inclusive) are
    /// `zones`, fed to [`Scan::add`] by index. `bucket_starts` (sorted, the first at or
    /// before `range.from_us`) are the time buckets of a `time:*` dimension.
    pub fn new(plan: &'p Plan, range: TimeRange, bucket_starts: Option<Vec<i64>>, zones: Vec<(i64, i64)>) -> Scan<'p> {
        let mut interners: Vec<Interner> = plan.sources.iter().map(|_| Interner::default()).collect();
        assert_eq!(interners[NAME].intern("pageview"), PAGEVIEW);
        assert_eq!(interners[NAME].intern("engagement"), ENGAGEMENT);
        Scan {
            plan,
            range,
            bucket_starts,
            zones,
            interners,
            memos: plan.leaves.iter().map(|_| Vec::new()).collect(),
            gathered: Batch::empty(plan),
            states: plan.views.iter().map(|_| ViewState::default()).collect(),
            funnel: FunnelState::new(plan.funnel.len()),
        }
    }

    /// Scans the batch `index` of the zones given to [`Scan::new`], calling `check`
    /// between its steps (each column decoded, each filter, view and goal): one batch
    /// can hold millions of rows.
    pub fn add(&mut self, index: usize, reader: &SegmentReader<'_>, check: Interrupt<'_>) -> Result<(), ScanError> {
        let mut batch = Batch::decode(reader, self.plan, &mut self.interners, check).map_err(|e| match e {
            Undecoded::Corrupt(e) => ScanError::Corrupt(index, e),
            Undecoded::Cancelled(cancelled) => cancelled.into(),
        })?;
        check()?;
        batch.restrict(self.range.from_us, self.range.to_us);
        self.process(&batch, &Window::of(index, &self.zones), check)?;
        Ok(())
    }

    fn process(&mut self, batch: &Batch, window: &Window, check: Interrupt<'_>) -> Result<(), Cancelled> {
        let plan = self.plan;
        for (leaf, memo) in plan.leaves.iter().zip(&mut self.memos) {
            let interner = &self.interners[plan.operands[leaf.operand].source];
            for code in memo.len()..interner.len() {
                memo.push(leaf.test.matches(interner.value(code as u32)));
            }
        }
        let mut derived = Derived::new(plan, batch, window, self.bucket_starts.as_deref());
        // Each distinct filter once: the rows passing it, whether that holds per visit,
        // and the complete visits with a row passing it (those a view walks).
        let mut filters: Vec<Filtered<'_>> = Vec::new();
        for view in &plan.views {
            let filter = view.filter.as_ref();
            if filters.iter().any(|f| f.filter == filter) {
                continue;
            }
            check()?;
            let (mask, per_visit) = match filter {
                Some(expr) => (derived.eval(plan, expr, &self.memos), derived.per_visit_expr(plan, expr)),
                None => (vec![true; batch.rows()], true),
            };
            // A mask the same on every row of a visit is read at the visit's first row.
            let passes = |rows: &std::ops::Range<usize>| if per_visit { mask[rows.start] } else { mask[rows.clone()].contains(&true) };
            let visits = derived.complete_visits().filter(|(_, rows)| passes(rows)).collect();
            filters.push(Filtered { filter, mask, per_visit, visits });
        }
        // The figures of the visits some view walks, each once, if the plan needs them.
        if plan.visit_figures {
            check()?;
            let mut walked = vec![false; batch.session_rows.len()];
            for (visit, _) in filters.iter().flat_map(|f| &f.visits) {
                walked[*visit] = true;
            }
            derived.count_visits(batch.visits().filter(|(visit, _)| walked[*visit]));
        }
        for (view, state) in plan.views.iter().zip(&mut self.states) {
            let Filtered { mask, per_visit, visits, .. } =
                filters.iter().find(|f| f.filter == view.filter.as_ref()).expect("evaluated above");
            if view.keys.contains(&Key::Goal) {
                for (goal, expr) in plan.goal_exprs.iter().enumerate() {
                    check()?;
                    // The goal's mask, narrowed in place to the view's rows.
                    let mut both = derived.eval(plan, expr, &self.memos);
                    both.iter_mut().zip(mask).for_each(|(b, &m)| *b &= m);
                    let per_visit = *per_visit && derived.per_visit_expr(plan, expr);
                    derived.accumulate(plan, view, state, &both, visits, goal as u32, per_visit);
                }
            } else {
                check()?;
                derived.accumulate(plan, view, state, mask, visits, 0, *per_visit);
            }
        }
        if !plan.funnel.is_empty() {
            check()?;
            // The query view's rows (view 0): the qualifying events a funnel walks.
            let qualifying = &filters.iter().find(|f| f.filter == plan.views[0].filter.as_ref()).expect("evaluated above").mask;
            let steps: Vec<Vec<bool>> = plan.funnel.iter().map(|&g| derived.eval(plan, &plan.goal_exprs[g], &self.memos)).collect();
            self.funnel.add(&derived, qualifying, &steps);
        }
        for (visit, rows) in derived.open_visits() {
            self.gathered.append(batch, visit, rows);
        }
        Ok(())
    }

    /// Ends this thread's share of the work: partitions the distinct-visitor pairs
    /// here, on the thread that recorded them, rather than on the one that merges.
    fn seal(&mut self) {
        self.states.iter_mut().for_each(ViewState::seal);
        self.funnel.seal();
    }

    /// Takes in a scan of the same plan, range and zones over other batches (another
    /// thread's share): its strings are interned here, its groups and visitors added,
    /// and its open visits gathered with this scan's, to be aggregated whole by
    /// [`Scan::finish`] like any visit seen in several batches.
    pub fn merge(&mut self, mut other: Scan<'p>) {
        let plan = self.plan;
        // Per source, the code here of each of `other`'s codes (NULL stays NULL).
        let tables: Vec<Vec<u32>> = self
            .interners
            .iter_mut()
            .zip(&other.interners)
            .map(|(mine, theirs)| {
                (0..theirs.len() as u32).map(|code| theirs.value(code).map_or(crate::codec::dict::NULL_CODE, |v| mine.intern(v))).collect()
            })
            .collect();
        for (source, table) in tables.iter().enumerate() {
            other.gathered.recode(source, table);
        }
        for (visit, rows) in other.gathered.visits() {
            self.gathered.append(&other.gathered, visit, rows);
        }
        for ((view, mine), theirs) in plan.views.iter().zip(&mut self.states).zip(other.states) {
            mine.merge(theirs, |key| {
                view.keys.iter().enumerate().fold(0u128, |out, (i, k)| {
                    let part = (key >> (32 * i)) as u32;
                    let part = match k {
                        Key::Operand(o) => tables[plan.operands[*o].source][part as usize],
                        Key::Bucket | Key::Goal => part,
                    };
                    out | (u128::from(part) << (32 * i))
                })
            });
        }
        self.funnel.merge(other.funnel);
    }

    /// Aggregates the gathered visits and returns every view's groups; distinct
    /// visitors are counted on up to `workers.threads` threads (see [`scan_all`]).
    pub fn finish(mut self, workers: Workers<'_>) -> Result<Answer, Cancelled> {
        let Workers { threads, on_thread, interrupted } = workers;
        let mut gathered = std::mem::replace(&mut self.gathered, Batch::empty(self.plan));
        interrupted()?;
        gathered.sort_visits();
        self.process(&gathered, &Window::everything(), interrupted)?;
        let plan = self.plan;
        let views = plan
            .views
            .iter()
            .zip(&mut self.states)
            .map(|(view, state)| {
                interrupted()?;
                state.settle_scroll();
                let visitors = state.distinct_visitors(threads, on_thread);
                Ok(state
                    .keys()
                    .iter()
                    .zip(&state.accs)
                    .zip(visitors)
                    .map(|((&key, &acc), visitors)| {
                        let key = view
                            .keys
                            .iter()
                            .enumerate()
                            .map(|(i, k)| {
                                let part = (key >> (32 * i)) as u32;
                                match k {
                                    Key::Operand(o) => {
                                        KeyValue::Text(self.interners[plan.operands[*o].source].value(part).map(str::to_owned))
                                    }
                                    Key::Bucket => KeyValue::Bucket(part),
                                    Key::Goal => KeyValue::Goal(part),
                                }
                            })
                            .collect();
                        Group { key, acc, visitors }
                    })
                    .collect())
            })
            .collect::<Result<_, Cancelled>>()?;
        interrupted()?;
        Ok(Answer { views, funnel: std::mem::take(&mut self.funnel).finish(threads, on_thread) })
    }
}

/// Scans `batches` (the encoded batches of `zones`, by index) on up to `threads`
/// threads, uninterrupted; see [`scan_loaded`]. A batch that cannot be decoded is
/// returned with its index.
pub fn scan_all(
    plan: &Plan,
    range: TimeRange,
    bucket_starts: Option<Vec<i64>>,
    zones: Vec<(i64, i64)>,
    batches: &[&[u8]],
    threads: usize,
    on_thread: fn(),
) -> Result<Answer, (usize, SegmentError)> {
    match scan_loaded(plan, range, bucket_starts, zones, |i| batches[i].into(), Workers::uninterrupted(threads, on_thread)) {
        Ok(answer) => Ok(answer),
        Err(ScanError::Corrupt(index, e)) => Err((index, e)),
        Err(ScanError::Cancelled(_)) => unreachable!("nothing interrupts this scan"),
    }
}

/// Scans the batches of `zones` on up to `workers.threads` threads as `load` hands
/// them over, then merges the threads' scans. `load(i)` runs on this thread, once per
/// batch in index order (the extension detoasts segment `i` there, which only the
/// backend's own thread may do); each batch loaded is scanned by whichever thread is
/// free, this one joining in once every batch is loaded. Loading so overlaps scanning,
/// and a thread that is ahead takes more batches. This thread checks
/// `workers.interrupted` before each batch it loads or scans and between the final
/// steps; once it says stop, the other threads end after the batch in hand. Bytes
/// `load` says were verified are not hashed again. A batch that cannot be decoded is
/// returned with its index (the lowest, if several).
pub fn scan_loaded<'b>(
    plan: &Plan,
    range: TimeRange,
    bucket_starts: Option<Vec<i64>>,
    zones: Vec<(i64, i64)>,
    mut load: impl FnMut(usize) -> SegmentBytes<'b>,
    workers: Workers<'_>,
) -> Result<Answer, ScanError> {
    let batches = zones.len();
    let queue = Queue::default();
    // `interrupted` is given on the calling thread only.
    // Helpers check whether it stopped the scan, inside a batch too.
    let work = |interrupted: Option<Interrupt<'_>>| -> Result<Scan<'_>, ScanError> {
        let stopping = || match interrupted {
            Some(check) => check().inspect_err(|_| queue.stop()),
            None if queue.stopped() => Err(Cancelled),
            None => Ok(()),
        };
        let mut scan = Scan::new(plan, range, bucket_starts.clone(), zones.clone());
        let mut failed = None;
        while let Some((i, bytes)) = queue.take() {
            stopping()?;
            if failed.is_none() {
                failed = match bytes.reader() {
                    Ok(reader) => scan.add(i, &reader, &stopping).err(),
                    Err(e) => Some(ScanError::Corrupt(i, e)),
                };
                if let Some(ScanError::Cancelled(cancelled)) = failed {
                    return Err(cancelled.into());
                }
            }
        }
        scan.seal();
        failed.map_or(Ok(scan), Err)
    };
    let on_thread = workers.on_thread;
    let scans = std::thread::scope(|scope| {
        let helpers: Vec<_> = (1..workers.threads.clamp(1, batches.max(1)))
            .map(|_| {
                scope.spawn(|| {
                    on_thread();
                    work(None)
                })
            })
            .collect();
        let loaded = {
            // Closed however loading ends, so that a load that raises an error (a
            // panic here) does not leave the helpers waiting for batches forever.
            let _closing = Closing(&queue);
            (0..batches).try_for_each(|i| {
                (workers.interrupted)()?;
                queue.push(i, load(i));
                Ok(())
            })
        };
        let mut scans = vec![loaded
            .map_err(|cancelled: Cancelled| {
                queue.stop();
                ScanError::from(cancelled)
            })
            .and_then(|()| work(Some(workers.interrupted)))];
        scans.extend(helpers.into_iter().map(|h| h.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))));
        scans
    });
    let (mut done, mut failed) = (Vec::with_capacity(scans.len()), None::<ScanError>);
    for scan in scans {
        match scan {
            Ok(scan) => done.push(scan),
            Err(e) => failed = Some(worse(failed, e)),
        }
    }
    if let Some(e) = failed {
        return Err(e);
    }
    let mut done = done.into_iter();
    let mut first = done.next().expect("this thread's scan");
    for scan in done {
        (workers.interrupted)()?;
        first.merge(scan);
    }
    first.finish(workers).map_err(ScanError::from)
}

/// The failure to report of two: a cancel over anything, else the lowest corrupt batch.
fn worse(failed: Option<ScanError>, e: ScanError) -> ScanError {
    match (failed, e) {
        (None, e) => e,
        (Some(ScanError::Corrupt(a, ea)), ScanError::Corrupt(b, eb)) => {
            if a <= b {
                ScanError::Corrupt(a, ea)
            } else {
                ScanError::Corrupt(b, eb)
            }
        }
        (Some(ScanError::Cancelled(c)), _) | (_, ScanError::Cancelled(c)) => ScanError::Cancelled(c),
    }
}

/// Loaded batches waiting for a scan thread.
#[derive(Default)]
struct Queue<'b> {
    state: Mutex<Waiting<'b>>,
    ready: Condvar,
}

/// Batches loaded (index and bytes) and not taken yet, whether more will come, and
/// whether the scan was abandoned (what is left is not taken).
#[derive(Default)]
struct Waiting<'b> {
    batches: VecDeque<(usize, SegmentBytes<'b>)>,
    closed: bool,
    stopped: bool,
}

impl<'b> Queue<'b> {
    fn push(&self, index: usize, bytes: SegmentBytes<'b>) {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).batches.push_back((index, bytes));
        self.ready.notify_one();
    }

    /// Ends the scan: no batch is taken any more, waiting threads wake up.
    fn stop(&self) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.stopped = true;
        state.closed = true;
        state.batches.clear();
        self.ready.notify_all();
    }

    /// Whether [`Queue::stop`] ended the scan.
    fn stopped(&self) -> bool {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).stopped
    }

    /// The next batch; `None` once the queue is closed and empty, or stopped.
    fn take(&self) -> Option<(usize, SegmentBytes<'b>)> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if state.stopped {
                return None;
            }
            if let Some(item) = state.batches.pop_front() {
                return Some(item);
            }
            if state.closed {
                return None;
            }
            state = self.ready.wait(state).unwrap_or_else(PoisonError::into_inner);
        }
    }
}

/// Closes a [`Queue`] when dropped: no more batches will come.
struct Closing<'q, 'b>(&'q Queue<'b>);

impl Drop for Closing<'_, '_> {
    /// A load that raised an error (unwinding) abandons the scan: the other threads
    /// stop after the batch in hand instead of scanning what is queued.
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.stop();
            return;
        }
        self.0.state.lock().unwrap_or_else(PoisonError::into_inner).closed = true;
        self.0.ready.notify_all();
    }
}
