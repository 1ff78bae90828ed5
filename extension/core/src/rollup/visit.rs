//! A visit as rollups see it: its time span and pageviews, and the values it lends to
//! every one of its events (entry page, source, UTM tags), found while its events
//! arrive in any order.

use crate::codec::dict::NULL_CODE;
use crate::query::intern::Interner;

/// Referrer source and the five UTM values of an event, as interned codes.
pub type Acquisition = [u32; 6];

#[derive(Debug, Clone)]
pub struct Visit {
    pub start: i64,
    pub end: i64,
    pub pageviews: u32,
    /// Interactive events (neither `engagement` nor sent with `interactive: false`): a
    /// visit with at most one bounces, as in `tally_core::query`.
    pub interactions: u32,
    /// Time and pathname of the first pageview.
    entry: Option<(i64, u32)>,
    /// Acquisition values of the first event.
    first: Acquisition,
}

/// Whether the values `a` come before `b`: the tie-break between events of one visit
/// at the same microsecond (NULL first, then strings in byte order).
fn before(strings: &Interner, a: &[u32], b: &[u32]) -> bool {
    a.iter().map(|&c| strings.value(c)).lt(b.iter().map(|&c| strings.value(c)))
}

impl Visit {
    /// A visit whose first event seen so far is at `ts`; `page` is its pathname code if
    /// that event is a pageview, `interaction` whether it is interactive (see
    /// [`Visit::interactions`]).
    pub fn new(ts: i64, page: Option<u32>, interaction: bool, acquisition: Acquisition) -> Visit {
        Visit {
            start: ts,
            end: ts,
            pageviews: u32::from(page.is_some()),
            interactions: u32::from(interaction),
            entry: page.map(|p| (ts, p)),
            first: acquisition,
        }
    }

    /// Takes in one more event of the visit.
    pub fn add(&mut self, strings: &Interner, ts: i64, page: Option<u32>, interaction: bool, acquisition: &Acquisition) {
        self.interactions += u32::from(interaction);
        if ts < self.start || (ts == self.start && before(strings, acquisition, &self.first)) {
            self.first = *acquisition;
        }
        self.start = self.start.min(ts);
        self.end = self.end.max(ts);
        if let Some(page) = page {
            self.pageviews += 1;
            let earlier = match self.entry {
                None => true,
                Some((t, p)) => ts < t || (ts == t && before(strings, &[page], &[p])),
            };
            if earlier {
                self.entry = Some((ts, page));
            }
        }
    }

    /// Last minus first event in microseconds: exact, so sums of rollup rows equal
    /// the query engine's sums over raw events.
    pub fn duration_us(&self) -> i64 {
        self.end - self.start
    }

    /// Last minus first event in milliseconds, rounded half away from zero as SQL's
    /// `(extract(epoch FROM max(ts) - min(ts)) * 1000)::bigint` does.
    pub fn duration_ms(&self) -> i64 {
        (self.duration_us() + 500) / 1000
    }

    /// At most one interactive event: the query engine's bounce.
    pub fn bounced(&self) -> bool {
        self.interactions <= 1
    }

    /// Entry page, then the acquisition values: the visit's own dimension values
    /// (`entry_page`, `source`, `utm_*`), NULL_CODE for none.
    pub fn values(&self) -> [u32; 7] {
        let mut out = [NULL_CODE; 7];
        out[0] = self.entry.map_or(NULL_CODE, |(_, page)| page);
        out[1..].copy_from_slice(&self.first);
        out
    }
}
