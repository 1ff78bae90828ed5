//! Gathers the events of one site's window (segments and hot rows, in any order and
//! split any way), then aggregates them into the rows of the hours.

use rustc_hash::FxHashMap;

use crate::codec::dict::NULL_CODE;
use crate::event::Event;
use crate::query::intern::Interner;
use crate::query::Acc;
use crate::segment::{Column, SegmentError, SegmentReader};
use crate::sketch::ddsketch::DDSketch;
use crate::sketch::hash::{hash_bigint, DEFAULT_SEED};
use crate::sketch::hll::Hll;

use super::periods::DAY_US;
use super::visit::{Acquisition, Visit};
use super::{hour_of, Hours, Row, ACQUISITION_COLUMNS, DIMENSIONS, LOOK_BEHIND_US, VISITOR_PARAMS};

/// Segment columns of an event's own dimension values, in `DIMENSIONS[1..7]` order.
const OWN_COLUMNS: [&str; 6] = ["pathname", "name", "country", "device", "browser", "os"];
/// Index of the pathname and of the event name in [`OWN_COLUMNS`].
const PAGE: usize = 0;
const NAME: usize = 1;
/// Where the own and the visit's values start in [`DIMENSIONS`].
const FIRST_OWN: u8 = 1;
const FIRST_OF_VISIT: u8 = 7;

/// An event of the window, reduced to what rollups read.
#[derive(Debug, Clone)]
struct Ev {
    ts: i64,
    /// `hll_hash_bigint(visitor_id)`, computed once.
    visitor_hash: i64,
    /// Index into `Builder::visits`.
    visit: u32,
    engagement_ms: Option<i32>,
    own: [u32; 6],
}

/// Rollup rows in the making for one site and [`Hours`].
#[derive(Debug)]
pub struct Builder {
    hours: Hours,
    strings: Interner,
    pageview: u32,
    engagement: u32,
    sessions: FxHashMap<i64, u32>,
    visits: Vec<Visit>,
    events: Vec<Ev>,
}

impl Builder {
    pub fn new(hours: Hours) -> Builder {
        let mut strings = Interner::default();
        let pageview = strings.intern("pageview");
        let engagement = strings.intern("engagement");
        Builder { hours, strings, pageview, engagement, sessions: FxHashMap::default(), visits: Vec::new(), events: Vec::new() }
    }

    /// Takes in the events of a segment that lie in the window (a segment of another
    /// site would be taken in too: the caller picks the site's segments).
    pub fn add_segment(&mut self, reader: &SegmentReader<'_>) -> Result<(), SegmentError> {
        let (from, to) = self.hours.window();
        let zone = reader.zone();
        if zone.rows == 0 || zone.ts_max < from || zone.ts_min >= to {
            return Ok(());
        }
        let ts = reader.int_column("ts")?.values;
        let sessions = reader.int_column("session_id")?.values;
        let visitors = reader.int_column("visitor_id")?.values;
        let engagement = reader.int_column("engagement_ms")?;
        let interactive = reader.int_column("interactive")?;
        let own = self.codes(reader, OWN_COLUMNS)?;
        let acquisition = self.codes(reader, ACQUISITION_COLUMNS)?;
        for row in 0..zone.rows {
            if (from..to).contains(&ts[row]) {
                self.push(
                    ts[row],
                    sessions[row],
                    visitors[row],
                    engagement.get(row).map(|ms| ms as i32),
                    interactive.get(row) != Some(0),
                    own.each_ref().map(|c| c[row]),
                    acquisition.each_ref().map(|c| c[row]),
                );
            }
        }
        Ok(())
    }

    /// The rows of the string columns `names`, as codes of this builder.
    fn codes(&mut self, reader: &SegmentReader<'_>, names: [&str; 6]) -> Result<[Vec<u32>; 6], SegmentError> {
        let mut out: [Vec<u32>; 6] = Default::default();
        for (slot, name) in out.iter_mut().zip(names) {
            *slot = match reader.column(name)? {
                Column::Str(dict) => self.strings.translate(&dict),
                _ => return Err(SegmentError::BadColumn { column: "rollup", reason: "expected a string column" }),
            };
        }
        Ok(out)
    }

    /// Takes in the events (hot rows) that lie in the window.
    pub fn add_events(&mut self, events: &[Event]) {
        let (from, to) = self.hours.window();
        for e in events.iter().filter(|e| (from..to).contains(&e.ts)) {
            let strings = &mut self.strings;
            let mut code = |v: Option<&str>| v.map_or(NULL_CODE, |v| strings.intern(v));
            let own = [
                code(Some(&e.pathname)),
                code(Some(&e.name)),
                code(e.country.as_deref()),
                code(e.device.as_deref()),
                code(e.browser.as_deref()),
                code(e.os.as_deref()),
            ];
            let acquisition = [
                code(e.referrer_source.as_deref()),
                code(e.utm_source.as_deref()),
                code(e.utm_medium.as_deref()),
                code(e.utm_campaign.as_deref()),
                code(e.utm_term.as_deref()),
                code(e.utm_content.as_deref()),
            ];
            self.push(e.ts, e.session_id, e.visitor_id, e.engagement_ms, e.interactive != Some(false), own, acquisition);
        }
    }

    /// Takes in one event; `interactive` is false for one sent with `interactive: false`.
    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        ts: i64,
        session: i64,
        visitor: i64,
        engagement_ms: Option<i32>,
        interactive: bool,
        own: [u32; 6],
        acquisition: Acquisition,
    ) {
        let page = (own[NAME] == self.pageview).then_some(own[PAGE]);
        let interaction = interactive && own[NAME] != self.engagement;
        let next = self.visits.len() as u32;
        let visit = *self.sessions.entry(session).or_insert(next);
        if visit == next {
            self.visits.push(Visit::new(ts, page, interaction, acquisition));
        } else {
            self.visits[visit as usize].add(&self.strings, ts, page, interaction, &acquisition);
        }
        self.events.push(Ev { ts, visitor_hash: hash_bigint(visitor, DEFAULT_SEED), visit, engagement_ms, own });
    }

    /// The rows of the hours, ordered by dimension, hour and value.
    pub fn finish(self) -> Vec<Row> {
        let hours = self.hours;
        self.index().rows(hours)
    }

    /// The events and visits taken in, indexed by UTC day, for computing the rows of
    /// the hours a piece at a time ([`Indexed::rows`]).
    pub fn index(self) -> Indexed {
        let (order, starts) = self.events_by_visit();
        let first_day = day_of(self.hours.lo);
        let days = (day_of(self.hours.hi - 1) - first_day + 1).max(0) as usize;
        let visits_by_day = by_day(first_day, days, self.visits.iter().map(|v| v.start));
        let events_by_day = by_day(first_day, days, self.events.iter().map(|e| e.ts));
        let mut codes: Vec<u32> = (1..self.strings.len() as u32).collect();
        codes.sort_unstable_by(|&a, &b| self.strings.value(a).cmp(&self.strings.value(b)));
        let mut ranks = vec![0u32; self.strings.len()];
        for (rank, &code) in codes.iter().enumerate() {
            ranks[code as usize] = rank as u32 + 1;
        }
        Indexed { builder: self, order, starts, first_day, visits_by_day, events_by_day, ranks }
    }

    /// The indices of the events of every visit, visit by visit (a counting sort):
    /// visit `v`'s events are `order[starts[v]..starts[v + 1]]`.
    fn events_by_visit(&self) -> (Vec<u32>, Vec<usize>) {
        let mut starts = vec![0usize; self.visits.len() + 1];
        for e in &self.events {
            starts[e.visit as usize + 1] += 1;
        }
        for i in 1..starts.len() {
            starts[i] += starts[i - 1];
        }
        let mut next = starts.clone();
        let mut order = vec![0u32; self.events.len()];
        for (i, e) in self.events.iter().enumerate() {
            order[next[e.visit as usize]] = i as u32;
            next[e.visit as usize] += 1;
        }
        (order, starts)
    }
}

/// A [`Builder`] whose events are all in ([`Builder::index`]): the rows of any of its
/// hours can be computed apart, side by side (a window of many days computed on
/// several threads a day each).
#[derive(Debug)]
pub struct Indexed {
    builder: Builder,
    /// The events of every visit ([`Builder::events_by_visit`]).
    order: Vec<u32>,
    starts: Vec<usize>,
    /// The UTC day (days since the epoch) of the builder's first hour.
    first_day: i64,
    /// Per UTC day of the builder's hours, the visits starting and the events lying
    /// in it, ascending.
    visits_by_day: Vec<Vec<u32>>,
    events_by_day: Vec<Vec<u32>>,
    /// Per code of the builder's strings, its place in byte order (NULL first): rows
    /// sort by value without comparing strings.
    ranks: Vec<u32>,
}

impl Indexed {
    /// The rows of the builder's hours that lie in `hours`, ordered by dimension, hour
    /// and value: those [`Builder::finish`] gives for them, whatever the pieces the
    /// hours are asked in (a visit keeps the start, end and values of the whole
    /// window's events).
    pub fn rows(&self, hours: Hours) -> Vec<Row> {
        let b = &self.builder;
        let (lo, hi) = (hours.lo.max(b.hours.lo), hours.hi.min(b.hours.hi));
        if lo >= hi {
            return Vec::new();
        }
        // A visit active this close to the window's end may go on past it, unseen.
        let open_from = b.hours.window().1 - LOOK_BEHIND_US;
        let mut groups: FxHashMap<(i64, u8, u32), Figures> = FxHashMap::default();
        // Buckets keep the order events and visits came in, so every group takes its
        // figures in the order a single pass over the window gives them.
        let days = (day_of(lo) - self.first_day) as usize..(day_of(hi - 1) - self.first_day + 1) as usize;
        for &v in self.visits_by_day[days.clone()].iter().flatten() {
            let (v, visit) = (v as usize, &b.visits[v as usize]);
            let events = &self.order[self.starts[v]..self.starts[v + 1]];
            if !(lo..hi).contains(&visit.start) {
                continue;
            }
            let hour = hour_of(visit.start);
            let open = visit.end >= open_from;
            groups.entry((hour, 0, NULL_CODE)).or_default().add_visit(visit, open, true);
            for (i, code) in visit.values().into_iter().enumerate() {
                let acc = groups.entry((hour, FIRST_OF_VISIT + i as u8, code)).or_default();
                acc.add_visit(visit, open, false);
                // A visit's values are known from its first event: its visitors count
                // here, where it started, not at its later events, which a
                // recomputation starting mid-visit would file under other values.
                for &e in events {
                    acc.add_visitor(b.events[e as usize].visitor_hash);
                }
            }
            // Every distinct own value of the visit's events counts the visit once; a
            // page only through its pageviews, as the query engine's top pages.
            let mut own: Vec<(u8, u32)> = events
                .iter()
                .flat_map(|&e| {
                    let own = b.events[e as usize].own;
                    let pageview = own[NAME] == b.pageview;
                    own.into_iter().enumerate().filter(move |&(i, _)| i != PAGE || pageview).map(|(i, c)| (i as u8, c))
                })
                .collect();
            own.sort_unstable();
            own.dedup();
            for (j, &(i, code)) in own.iter().enumerate() {
                let mixed = own.get(j.wrapping_sub(1)).is_some_and(|p| p.0 == i) || own.get(j + 1).is_some_and(|n| n.0 == i);
                let acc = groups.entry((hour, FIRST_OWN + i, code)).or_default();
                acc.add_visit(visit, open, false);
                acc.mixed_visits += i64::from(mixed);
            }
        }
        let events = self.events_by_day[days].iter().flatten().map(|&e| &b.events[e as usize]);
        for e in events.filter(|e| (lo..hi).contains(&e.ts)) {
            let hour = hour_of(e.ts);
            let (pageview, interaction) = (e.own[NAME] == b.pageview, e.own[NAME] != b.engagement);
            let visit = b.visits[e.visit as usize].values();
            let codes = std::iter::once(NULL_CODE).chain(e.own).chain(visit);
            for (dimension, code) in codes.enumerate() {
                let page = dimension as u8 == FIRST_OWN + PAGE as u8;
                // Page rows hold pageviews and the engagement that measures them.
                if page && !pageview && interaction {
                    continue;
                }
                let acc = groups.entry((hour, dimension as u8, code)).or_default();
                acc.add_event(e, pageview, interaction, dimension == 0);
                if (dimension as u8) < FIRST_OF_VISIT && (pageview || !page) {
                    acc.add_visitor(e.visitor_hash);
                }
            }
        }
        // Sorted by integer keys (the values by rank), the figures staying in place.
        let mut groups: Vec<((i64, u8, u32), Figures)> = groups.into_iter().collect();
        let mut order: Vec<(u8, i64, u32, u32)> = groups
            .iter()
            .enumerate()
            .map(|(i, &((hour, dimension, code), _))| (dimension, hour, self.ranks[code as usize], i as u32))
            .collect();
        order.sort_unstable();
        order
            .into_iter()
            .map(|(.., i)| {
                let ((hour, dimension, code), acc) = std::mem::take(&mut groups[i as usize]);
                acc.row(hour, dimension, b.strings.value(code))
            })
            .collect()
    }

    /// The hours the builder computes.
    pub fn hours(&self) -> Hours {
        self.builder.hours
    }

    /// How many events of the window lie in the days of `hours`: what computing their
    /// rows costs, to start the largest pieces first.
    pub fn events_in(&self, hours: Hours) -> usize {
        let days = self.events_by_day.len() as i64;
        let from = (day_of(hours.lo) - self.first_day).clamp(0, days) as usize;
        let to = (day_of(hours.hi - 1) - self.first_day + 1).clamp(0, days) as usize;
        self.events_by_day[from..to.max(from)].iter().map(Vec::len).sum()
    }
}

/// Days since the epoch of `ts` (UTC).
fn day_of(ts: i64) -> i64 {
    ts.div_euclid(DAY_US)
}

/// The indices of `times` per UTC day of `days` days from `first_day`, ascending;
/// those of other days left out.
fn by_day(first_day: i64, days: usize, times: impl Iterator<Item = i64>) -> Vec<Vec<u32>> {
    let mut out = vec![Vec::new(); days];
    for (i, ts) in times.enumerate() {
        if let Some(day) = usize::try_from(day_of(ts) - first_day).ok().and_then(|d| out.get_mut(d)) {
            day.push(i as u32);
        }
    }
    out
}

/// Visitor hashes a [`Figures`] holds before adding them to its sketch at once.
const VISITOR_BATCH: usize = 256;

/// The figures of one (hour, dimension, value).
#[derive(Debug, Default)]
struct Figures {
    acc: Acc,
    open_visits: i64,
    mixed_visits: i64,
    visitors: Option<Hll>,
    pending_visitors: Vec<i64>,
    visit_durations: Option<DDSketch>,
    engagement_times: Option<DDSketch>,
}

/// Quantile sketches (visit durations, engagement times) are kept on `total` rows
/// alone (`quantiles`): a few values in a hundred 1%-wide buckets cost a page or source
/// row more than its counts (53 of 214 bytes an hourly row, see
/// [FOOTPRINT.md](FOOTPRINT.md)), and no query reads them per value.
impl Figures {
    fn add_visit(&mut self, visit: &Visit, open: bool, quantiles: bool) {
        self.acc.visits += 1;
        self.acc.bounces += u64::from(visit.bounced());
        self.acc.duration_us += visit.duration_us() as u64;
        self.acc.visit_pageviews += u64::from(visit.pageviews);
        self.open_visits += i64::from(open);
        if quantiles {
            self.visit_durations.get_or_insert_with(DDSketch::new).add(visit.duration_ms() as f64);
        }
    }

    fn add_event(&mut self, e: &Ev, pageview: bool, interaction: bool, quantiles: bool) {
        self.acc.events += u64::from(interaction);
        self.acc.pageviews += u64::from(pageview);
        if let Some(ms) = e.engagement_ms {
            self.acc.engagement_ms += ms as u64;
            if quantiles {
                self.engagement_times.get_or_insert_with(DDSketch::new).add(f64::from(ms));
            }
        }
    }

    /// Visitors are added to the sketch in batches (`Hll::add_all`: one merge into an
    /// explicit list rather than an insertion per visitor).
    fn add_visitor(&mut self, hash: i64) {
        self.pending_visitors.push(hash);
        if self.pending_visitors.len() >= VISITOR_BATCH {
            self.visitors.get_or_insert_with(|| Hll::new(VISITOR_PARAMS)).add_all(&mut self.pending_visitors);
        }
    }

    fn row(mut self, hour: i64, dimension: u8, value: Option<&str>) -> Row {
        Row {
            hour,
            dimension: DIMENSIONS[dimension as usize],
            value: value.map(str::to_owned),
            acc: self.acc,
            open_visits: self.open_visits,
            mixed_visits: self.mixed_visits,
            visitors: {
                let mut visitors = self.visitors.unwrap_or_else(|| Hll::new(VISITOR_PARAMS));
                visitors.add_all(&mut self.pending_visitors);
                visitors
            },
            visit_durations: self.visit_durations,
            engagement_times: self.engagement_times,
        }
    }
}
