//! The vectorized part of a scan: per-row code arrays and filter masks for a batch,
//! then one pass over its visits that feeds every view's group accumulators.

use std::borrow::Cow;

use super::batch::Batch;
use super::distinct::DistinctVisitors;
use super::groups::GroupTable;
use super::plan::{Expr, Key, Level, Plan, View};
use super::scroll::ScrollDepths;
use super::window::Window;

/// Query codes of the two event names the metrics single out; interned first, so fixed.
pub(crate) const PAGEVIEW: u32 = 1;
pub(crate) const ENGAGEMENT: u32 = 2;

/// The currency of a group's revenue: none yet, one ISO 4217 code, or several. Revenue
/// in different currencies is never added up into one figure: a group holding several
/// answers no total (see `render`); a dimension or filter on `event:revenue_currency`
/// splits it.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Currency([u8; 3]);

impl Currency {
    const MIXED: Currency = Currency([0xff; 3]);

    /// The currency named `code` (3 ASCII letters as ingest checks; NULL is none).
    pub fn of(code: Option<&str>) -> Currency {
        let mut bytes = [0; 3];
        for (slot, b) in bytes.iter_mut().zip(code.unwrap_or_default().bytes()) {
            *slot = b;
        }
        Currency(bytes)
    }

    /// The currency of revenue in `self` and in `other` together.
    pub fn merge(self, other: Currency) -> Currency {
        match (self, other) {
            (a, Currency([0, 0, 0])) => a,
            (Currency([0, 0, 0]), b) => b,
            (a, b) if a == b => a,
            _ => Currency::MIXED,
        }
    }

    /// Whether revenue of more than one currency was met.
    pub fn is_mixed(self) -> bool {
        self == Currency::MIXED
    }
}

/// Sums of one group. Every field adds across batches, so groups merge by addition.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Acc {
    pub pageviews: u64,
    /// Events other than `engagement` (which only measures time on page).
    pub events: u64,
    pub visits: u64,
    pub bounces: u64,
    pub duration_us: u64,
    /// Pageviews of the group's visits, whole visits (views per visit).
    pub visit_pageviews: u64,
    pub revenue_micros: i64,
    pub revenue_events: u64,
    pub currency: Currency,
    /// Milliseconds reported by qualifying `engagement` events, and the visits that
    /// sent one (time on page).
    pub engagement_ms: u64,
    pub engaged_visits: u64,
    /// Sum of each visitor's deepest scroll (percent) and the visitors that reported
    /// one; set once per group at the end of a scan (see [`ScrollDepths`]).
    pub scroll_total: u64,
    pub scroll_visitors: u64,
}

impl std::ops::AddAssign for Acc {
    fn add_assign(&mut self, other: Acc) {
        self.pageviews += other.pageviews;
        self.events += other.events;
        self.visits += other.visits;
        self.bounces += other.bounces;
        self.duration_us += other.duration_us;
        self.visit_pageviews += other.visit_pageviews;
        self.revenue_micros += other.revenue_micros;
        self.revenue_events += other.revenue_events;
        self.currency = self.currency.merge(other.currency);
        self.engagement_ms += other.engagement_ms;
        self.engaged_visits += other.engaged_visits;
        self.scroll_total += other.scroll_total;
        self.scroll_visitors += other.scroll_visitors;
    }
}

/// The groups of one view.
#[derive(Debug, Default)]
pub(crate) struct ViewState {
    groups: GroupTable,
    pub accs: Vec<Acc>,
    /// The visitors counted in each group.
    visitors: DistinctVisitors,
    /// Each visitor's deepest scroll per group.
    scroll: ScrollDepths,
}

impl ViewState {
    #[inline]
    pub(crate) fn group(&mut self, key: u128) -> u32 {
        let group = self.groups.group(key);
        if group as usize == self.accs.len() {
            self.accs.push(Acc::default());
        }
        group
    }

    /// The group of a one-dimension key (a code): the array lookup inlined, the rest
    /// as [`ViewState::group`].
    #[inline(always)]
    pub(crate) fn group_of_code(&mut self, code: u32) -> u32 {
        match self.groups.known(code) {
            Some(group) => group,
            None => self.group(u128::from(code)),
        }
    }

    /// Every group's key, by group number.
    pub fn keys(&self) -> &[u128] {
        self.groups.keys()
    }

    /// Adds `other`'s groups, whose keys `remap` translates into this state's code
    /// space (the states of two scans of one query over different batches).
    pub fn merge(&mut self, other: ViewState, remap: impl Fn(u128) -> u128) {
        let groups: Vec<u32> = other.keys().iter().map(|&key| self.group(remap(key))).collect();
        for (&group, acc) in groups.iter().zip(other.accs) {
            self.accs[group as usize] += acc;
        }
        self.visitors.merge(other.visitors, |group| groups[group as usize]);
        self.scroll.merge(other.scroll, |group| groups[group as usize]);
    }

    /// Partitions the distinct-visitor pairs recorded so far (see [`DistinctVisitors::seal`]).
    pub fn seal(&mut self) {
        self.visitors.seal();
    }

    /// Adds each group's scroll depths to its sums ([`Acc::scroll_total`]).
    pub fn settle_scroll(&mut self) {
        for (group, (total, visitors)) in std::mem::take(&mut self.scroll).sums(self.accs.len()).into_iter().enumerate() {
            self.accs[group].scroll_total += total;
            self.accs[group].scroll_visitors += visitors;
        }
    }

    /// Distinct visitors per group, exact, counted on up to `threads` threads.
    pub fn distinct_visitors(&mut self, threads: usize, on_thread: fn()) -> Vec<u64> {
        std::mem::take(&mut self.visitors).counts(self.accs.len(), threads, on_thread)
    }
}

/// Where one part of a group key comes from, for the rows of a batch.
enum Part<'a> {
    Column(&'a [u32]),
    Const(u32),
}

/// Per-row and per-visit arrays of one batch, shared by every view.
pub(crate) struct Derived<'b> {
    batch: &'b Batch,
    operands: Vec<Cow<'b, [u32]>>,
    buckets: Vec<u32>,
    /// Per visit: complete here (else gathered for later), bounced, duration, pageviews,
    /// events other than `engagement`; the figures zero until [`Derived::count_visits`].
    complete: Vec<bool>,
    bounced: Vec<bool>,
    duration: Vec<u64>,
    pageviews: Vec<u64>,
    events: Vec<u64>,
}

impl<'b> Derived<'b> {
    pub fn new(plan: &Plan, batch: &'b Batch, window: &Window, bucket_starts: Option<&[i64]>) -> Derived<'b> {
        let names = &batch.codes[super::plan::NAME];
        let complete = batch.visits().map(|(_, rows)| window.complete(batch.ts[rows.start], batch.ts[rows.end - 1])).collect();
        // Zeros until counted: the pages of visits never counted stay unmapped.
        let sessions = batch.session_rows.len();
        let (bounced, duration, pageviews, events) = (vec![false; sessions], vec![0; sessions], vec![0; sessions], vec![0; sessions]);
        let operands = plan
            .operands
            .iter()
            .map(|operand| {
                let codes = &batch.codes[operand.source];
                match operand.level {
                    Level::Row => Cow::Borrowed(codes.as_slice()),
                    Level::Visit if batch.constant_in_visits[operand.source] => Cow::Borrowed(codes.as_slice()),
                    level => Cow::Owned(per_visit(batch, |rows| match level {
                        Level::Entry => rows.clone().find(|&r| names[r] == PAGEVIEW).map_or(0, |r| codes[r]),
                        Level::Exit => rows.clone().rev().find(|&r| names[r] == PAGEVIEW).map_or(0, |r| codes[r]),
                        _ => codes[rows.start],
                    })),
                }
            })
            .collect();
        let buckets = match bucket_starts {
            Some(starts) => batch.ts.iter().map(|&t| starts.partition_point(|&s| s <= t).saturating_sub(1) as u32).collect(),
            None => Vec::new(),
        };
        Derived { batch, operands, buckets, complete, bounced, duration, pageviews, events }
    }

    /// Counts the figures (bounced, duration, pageviews, events) of `visits`, the ones
    /// views will add: a filter on the visit (a country) leaves most visits of a batch
    /// uncounted.
    pub fn count_visits(&mut self, visits: impl Iterator<Item = (usize, std::ops::Range<usize>)>) {
        let batch = self.batch;
        let names = &batch.codes[super::plan::NAME];
        let passive = &batch.non_interactive;
        for (visit, rows) in visits {
            let (mut views, mut others, mut interactions) = (0u64, 0u64, 0u64);
            for (r, &name) in rows.clone().zip(&names[rows.clone()]) {
                views += u64::from(name == PAGEVIEW);
                others += u64::from(name != ENGAGEMENT);
                interactions += u64::from(name != ENGAGEMENT && !passive.get(r).copied().unwrap_or(false));
            }
            self.bounced[visit] = interactions <= 1;
            self.duration[visit] = (batch.ts[rows.end - 1] - batch.ts[rows.start]) as u64;
            self.pageviews[visit] = views;
            self.events[visit] = others;
        }
    }

    /// The visits not complete here (index and rows), to be gathered with their other parts.
    pub fn open_visits(&self) -> impl Iterator<Item = (usize, std::ops::Range<usize>)> + '_ {
        self.batch.visits().filter(|&(visit, _)| !self.complete[visit])
    }

    /// The visits complete here (index and rows), the ones aggregated now.
    pub fn complete_visits(&self) -> impl Iterator<Item = (usize, std::ops::Range<usize>)> + '_ {
        self.batch.visits().filter(|&(visit, _)| self.complete[visit])
    }

    pub fn batch(&self) -> &Batch {
        self.batch
    }

    /// Rows passing `expr`; `memos` holds each leaf's result per code.
    pub fn eval(&self, plan: &Plan, expr: &Expr, memos: &[Vec<bool>]) -> Vec<bool> {
        match expr {
            Expr::Leaf(i) => {
                let memo = &memos[*i];
                self.operands[plan.leaves[*i].operand].iter().map(|&c| memo[c as usize]).collect()
            }
            Expr::And(items) | Expr::Or(items) => {
                let and = matches!(expr, Expr::And(_));
                let mut out = vec![and; self.batch.rows()];
                for item in items {
                    let mask = self.eval(plan, item, memos);
                    for (o, m) in out.iter_mut().zip(mask) {
                        *o = if and { *o && m } else { *o || m };
                    }
                }
                out
            }
            Expr::Not(inner) => self.eval(plan, inner, memos).into_iter().map(|m| !m).collect(),
            Expr::HasDone(inner) => {
                // Visits are gathered whole before they are counted, so a visit's
                // rows here are all of its rows in the range.
                let mut mask = self.eval(plan, inner, memos);
                for (_, rows) in self.batch.visits() {
                    let done = mask[rows.clone()].contains(&true);
                    mask[rows].fill(done);
                }
                mask
            }
        }
    }

    /// Whether `operand`'s codes are the same on every row of a visit in this batch.
    fn same_in_visits(&self, plan: &Plan, operand: usize) -> bool {
        let operand = plan.operands[operand];
        operand.level != Level::Row || self.batch.constant_in_visits[operand.source]
    }

    /// Whether `expr` gives every row of a visit the same result (it tests only values
    /// of the visit).
    pub fn per_visit_expr(&self, plan: &Plan, expr: &Expr) -> bool {
        match expr {
            Expr::Leaf(i) => self.same_in_visits(plan, plan.leaves[*i].operand),
            Expr::And(items) | Expr::Or(items) => items.iter().all(|e| self.per_visit_expr(plan, e)),
            Expr::Not(inner) => self.per_visit_expr(plan, inner),
            Expr::HasDone(_) => true,
        }
    }

    /// Adds the rows passing `mask` of `visits` (complete visits, at least every one
    /// with a row passing) to `state`, grouped by `view`'s keys (`goal` fills a
    /// [`Key::Goal`] component). `mask_per_visit` says the mask is the same on every row
    /// of a visit: with keys that are too (a visit dimension, or none), a visit then
    /// adds its precomputed figures whole instead of row by row.
    #[allow(clippy::too_many_arguments)]
    pub fn accumulate(
        &self,
        plan: &Plan,
        view: &View,
        state: &mut ViewState,
        mask: &[bool],
        visits: &[(usize, std::ops::Range<usize>)],
        goal: u32,
        mask_per_visit: bool,
    ) {
        let parts: Vec<Part<'_>> = view
            .keys
            .iter()
            .map(|k| match k {
                Key::Operand(o) => Part::Column(&self.operands[*o]),
                Key::Bucket => Part::Column(&self.buckets),
                Key::Goal => Part::Const(goal),
            })
            .collect();
        let whole_visits = mask_per_visit
            && !view.pageviews_only
            && self.batch.revenue.is_empty()
            && self.batch.engagement.is_empty()
            && self.batch.scroll.is_empty()
            && view.keys.iter().all(|k| match k {
                Key::Operand(o) => self.same_in_visits(plan, *o),
                Key::Bucket => false,
                Key::Goal => true,
            });
        let key = |row: usize| -> u128 {
            parts.iter().enumerate().fold(0u128, |key, (i, part)| {
                let code = match part {
                    Part::Column(codes) => codes[row],
                    Part::Const(value) => *value,
                };
                key | (u128::from(code) << (32 * i))
            })
        };
        if whole_visits {
            return self.accumulate_visits(state, mask, visits, key);
        }
        // Most views have one dimension or none: their loops are compiled apart, with
        // keys read straight from a code array rather than folded from parts.
        let pages = view.pageviews_only;
        match parts.as_slice() {
            [] => self.accumulate_by(state, mask, visits, pages, keyed(|_| 0)),
            [Part::Const(value)] => self.accumulate_by(state, mask, visits, pages, keyed(|_| u128::from(*value))),
            [Part::Column(codes)] => {
                self.accumulate_by(state, mask, visits, pages, |state: &mut ViewState, row| state.group_of_code(codes[row]))
            }
            _ => self.accumulate_by(state, mask, visits, pages, keyed(key)),
        }
    }

    /// [`Derived::accumulate`] when the mask and the key are constant within visits:
    /// one group lookup and one addition of the visit's figures per visit.
    fn accumulate_visits(
        &self,
        state: &mut ViewState,
        mask: &[bool],
        visits: &[(usize, std::ops::Range<usize>)],
        key_of: impl Fn(usize) -> u128,
    ) {
        for &(visit, ref rows) in visits {
            if !mask[rows.start] {
                continue;
            }
            let group = state.group(key_of(rows.start));
            let acc = &mut state.accs[group as usize];
            acc.pageviews += self.pageviews[visit];
            acc.events += self.events[visit];
            acc.visits += 1;
            acc.bounces += u64::from(self.bounced[visit]);
            acc.duration_us += self.duration[visit];
            acc.visit_pageviews += self.pageviews[visit];
            state.visitors.add(group, self.batch.visitor[visit]);
        }
    }

    /// The row loop of [`Derived::accumulate`]; `group_of` gives a row's group.
    /// With `pageviews_only` ([`View::pageviews_only`]) only pageviews count a visit in
    /// a group, and events other than pageviews and engagement are left out.
    fn accumulate_by(
        &self,
        state: &mut ViewState,
        mask: &[bool],
        visits: &[(usize, std::ops::Range<usize>)],
        pageviews_only: bool,
        mut group_of: impl FnMut(&mut ViewState, usize) -> u32,
    ) {
        let batch = self.batch;
        let names = &batch.codes[super::plan::NAME];
        let revenue = !batch.revenue.is_empty();
        let engagement = !batch.engagement.is_empty();
        let scroll = !batch.scroll.is_empty();
        let mut seen: Vec<u32> = Vec::with_capacity(4);
        let mut engaged: Vec<u32> = Vec::new();
        for &(visit, ref rows) in visits {
            let (mask, names) = (&mask[rows.clone()], &names[rows.clone()]);
            if !mask.contains(&true) {
                continue;
            }
            seen.clear();
            engaged.clear();
            for (i, r) in rows.clone().enumerate() {
                if !mask[i] || (pageviews_only && names[i] != PAGEVIEW && names[i] != ENGAGEMENT) {
                    continue;
                }
                let group = group_of(state, r);
                let acc = &mut state.accs[group as usize];
                acc.pageviews += u64::from(names[i] == PAGEVIEW);
                acc.events += u64::from(names[i] != ENGAGEMENT);
                if revenue && batch.has_revenue[r] {
                    acc.revenue_micros += batch.revenue[r];
                    acc.revenue_events += 1;
                    acc.currency = acc.currency.merge(batch.currency[r]);
                }
                if scroll && names[i] == ENGAGEMENT && batch.scroll[r] >= 0 {
                    state.scroll.record(group, batch.visitor[visit], batch.scroll[r]);
                }
                if engagement && names[i] == ENGAGEMENT {
                    acc.engagement_ms += batch.engagement[r] as u64;
                    if !engaged.contains(&group) {
                        engaged.push(group);
                    }
                }
                if !seen.contains(&group) && (!pageviews_only || names[i] == PAGEVIEW) {
                    seen.push(group);
                }
            }
            let visitor = batch.visitor[visit];
            for &group in &seen {
                let acc = &mut state.accs[group as usize];
                acc.visits += 1;
                acc.bounces += u64::from(self.bounced[visit]);
                acc.duration_us += self.duration[visit];
                acc.visit_pageviews += self.pageviews[visit];
                state.visitors.add(group, visitor);
            }
            for &group in &engaged {
                state.accs[group as usize].engaged_visits += 1;
            }
        }
    }
}

/// A row's group from its key (`key_of`), remembering the last key's group: rows of
/// a visit often share keys (a visit dimension, a time bucket).
fn keyed(key_of: impl Fn(usize) -> u128) -> impl FnMut(&mut ViewState, usize) -> u32 {
    let mut last: Option<(u128, u32)> = None;
    move |state, row| {
        let key = key_of(row);
        match last {
            Some((k, g)) if k == key => g,
            _ => {
                let g = state.group(key);
                last = Some((key, g));
                g
            }
        }
    }
}

/// One value per visit, repeated on each of its rows.
fn per_visit(batch: &Batch, value: impl Fn(&std::ops::Range<usize>) -> u32) -> Vec<u32> {
    let mut out = Vec::with_capacity(batch.rows());
    let mut row = 0usize;
    for &n in &batch.session_rows {
        let rows = row..row + n as usize;
        let v = value(&rows);
        out.extend(std::iter::repeat_n(v, n as usize));
        row = rows.end;
    }
    out
}
