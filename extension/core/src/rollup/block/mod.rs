//! One site's day of per-value rollup figures as one compressed columnar block, in
//! place of a heap row per (hour, dimension, value): a row and its index entry cost
//! about 190 bytes whatever it holds (rollup/FOOTPRINT.md), where a block entry costs
//! a few bytes of codes and counts.
//!
//! A block holds, per dimension, one entry per value and hour ([`Grain::Hour`]) or per
//! value for the whole day ([`Grain::Day`], the hourly rows summed): the values as a
//! sorted dictionary ([`dict`]), the hour as a column, the nine counts of
//! `tally.rollups` each as an adaptive integer column ([`ints`]), and the visitors. A
//! visitor of a day is in many entries (its pages, country, device, browser, ...), so
//! the distinct hashes of the explicit (exact) visitor sets are stored once per block,
//! sorted, and each entry lists the positions of its own: one or two bytes a visitor
//! instead of eight, and the sets come back exactly as postgresql-hll's explicit lists.
//! Sets already turned into registers (over 1,280 visitors in one entry) keep their
//! postgresql-hll bytes.
//!
//! A directory at the front names each dimension's section and its length, so a read
//! decodes only the dimension it asks for, and the visitor hashes only when it wants
//! sketches.
//!
//! Layout: `[u8 version][zigzag varint day][2 bytes hll params][varint sections]`, per
//! section `[u8 dimension index][u8 grain][varint entries][varint bytes]`, then
//! `[varint bytes][ints: visitor hashes]`, then the sections. A section is
//! `[dict values][ints hours (hourly only)][ints × 9 counts][ints visitor counts, -1
//! for registers][ints visitor positions, each after the first of an entry as the gap
//! from the previous][block: per registers entry, varint length and hll bytes]`.
//! Entries are sorted by value, then hour.

use rustc_hash::FxHashMap;

use crate::codec::dict::{self, DictColumn};
use crate::codec::{block as zblock, ints, put_varint, zigzag, Cursor, DecodeError, MAX_VALUES};
use crate::query::Acc;
use crate::sketch::hll::{Hll, HllError, Params, Repr};

use super::periods::DAY_US;
use super::{Hours, Row, RowSums, DIMENSIONS, HOUR_US};

const VERSION: u8 = 1;

/// The time a block entry stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grain {
    /// One UTC hour of the day.
    Hour = 0,
    /// The whole UTC day.
    Day = 1,
}

impl Grain {
    fn from_tag(tag: u8) -> Result<Grain, DecodeError> {
        match tag {
            0 => Ok(Grain::Hour),
            1 => Ok(Grain::Day),
            _ => Err(DecodeError::Invalid("block grain")),
        }
    }
}

/// Why a block could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum BlockError {
    #[error("a block starts at a UTC midnight, not at {0}")]
    NotADay(i64),
    #[error("a row of hour {hour} is not an hour of the block's day")]
    OutsideDay { hour: i64 },
    #[error("rollup dimension {0:?} is unknown")]
    Dimension(String),
    #[error("blocks keep no quantile sketches (the hourly `total` rows do)")]
    Quantiles,
    #[error("an undefined visitors sketch cannot be stored in a block")]
    Undefined,
    #[error("two rows of dimension {dimension} for one value and hour")]
    Duplicate { dimension: &'static str },
    #[error("rollup block: {0}")]
    Decode(#[from] DecodeError),
    #[error("visitors sketch of a rollup block: {0}")]
    Sketch(#[from] HllError),
}

/// The nine counts of a row, in the order of the block's count columns.
const COUNTS: usize = 9;

fn counts_of(row: &Row) -> [i64; COUNTS] {
    let a = &row.acc;
    [
        a.events as i64,
        a.pageviews as i64,
        a.visits as i64,
        a.bounces as i64,
        a.duration_us as i64,
        a.visit_pageviews as i64,
        a.engagement_ms as i64,
        row.open_visits,
        row.mixed_visits,
    ]
}

/// The block of one day (`day` a UTC midnight) from its hourly rows of any dimensions
/// but their quantile sketches: the rows of the dimensions in `daily` are summed per
/// value over the day ([`RowSums`]), the others kept per hour.
pub fn encode(day: i64, rows: &[Row], daily: &[&str]) -> Result<Vec<u8>, BlockError> {
    encode_rows(day, rows.iter(), daily)
}

/// [`encode`] of rows held anywhere.
fn encode_rows<'r>(day: i64, rows: impl Iterator<Item = &'r Row>, daily: &[&str]) -> Result<Vec<u8>, BlockError> {
    if day.rem_euclid(DAY_US) != 0 {
        return Err(BlockError::NotADay(day));
    }
    let mut params: Option<Params> = None;
    let mut by_dimension: Vec<Vec<&Row>> = vec![Vec::new(); DIMENSIONS.len()];
    for row in rows {
        if !(day..day + DAY_US).contains(&row.hour) || row.hour.rem_euclid(HOUR_US) != 0 {
            return Err(BlockError::OutsideDay { hour: row.hour });
        }
        if row.visit_durations.is_some() || row.engagement_times.is_some() {
            return Err(BlockError::Quantiles);
        }
        if *row.visitors.repr() == Repr::Undefined {
            return Err(BlockError::Undefined);
        }
        match params {
            Some(p) => p.check_same(&row.visitors.params())?,
            None => params = Some(row.visitors.params()),
        }
        // Rows name their dimension by the `DIMENSIONS` entry itself: the address finds it.
        let index = DIMENSIONS
            .iter()
            .position(|d| std::ptr::eq(*d, row.dimension))
            .or_else(|| DIMENSIONS.iter().position(|d| *d == row.dimension))
            .ok_or_else(|| BlockError::Dimension(row.dimension.into()))?;
        by_dimension[index].push(row);
    }
    let params = params.unwrap_or(super::VISITOR_PARAMS);
    // The day's sums of the daily dimensions; the hourly ones are encoded from `rows`.
    let mut summed: Vec<Vec<Row>> = vec![Vec::new(); DIMENSIONS.len()];
    for (index, dimension_rows) in by_dimension.iter_mut().enumerate() {
        if daily.contains(&DIMENSIONS[index]) && !dimension_rows.is_empty() {
            let mut sums = RowSums::new(false);
            for row in dimension_rows.drain(..) {
                sums.add(row.clone())?;
            }
            summed[index] = sums.finish().into_iter().map(|row| Row { hour: day, ..row }).collect();
        }
    }
    let mut sections: Vec<(usize, Grain, Vec<&Row>)> = Vec::new();
    for (index, (hourly, summed)) in by_dimension.into_iter().zip(&summed).enumerate() {
        let (grain, mut entries) = if !hourly.is_empty() {
            (Grain::Hour, hourly)
        } else if !summed.is_empty() {
            (Grain::Day, summed.iter().collect())
        } else {
            continue;
        };
        entries.sort_by(|a, b| (&a.value, a.hour).cmp(&(&b.value, b.hour)));
        if entries.windows(2).any(|w| (&w[0].value, w[0].hour) == (&w[1].value, w[1].hour)) {
            return Err(BlockError::Duplicate { dimension: DIMENSIONS[index] });
        }
        sections.push((index, grain, entries));
    }
    // The distinct hashes, then each one's place among them: a day's entries list
    // about a dozen times as many hashes as it has visitors, so they are deduplicated
    // through a hash set rather than sorted all, and placed by lookup.
    let mut places: FxHashMap<i64, u32> = FxHashMap::default();
    for row in sections.iter().flat_map(|(_, _, entries)| entries) {
        if let Repr::Explicit(list) = row.visitors.repr() {
            for &hash in list {
                places.insert(hash, 0);
            }
        }
    }
    let mut hashes: Vec<i64> = places.keys().copied().collect();
    hashes.sort_unstable();
    for (at, hash) in hashes.iter().enumerate() {
        places.insert(*hash, at as u32);
    }

    let payloads: Vec<Vec<u8>> = sections.iter().map(|(_, grain, entries)| encode_section(day, *grain, entries, &places)).collect();
    let mut visitors = Vec::new();
    ints::encode_into(&hashes, &mut visitors);

    let mut out = vec![VERSION];
    put_varint(&mut out, zigzag(day));
    out.extend_from_slice(&params.header());
    put_varint(&mut out, sections.len() as u64);
    for ((index, grain, entries), payload) in sections.iter().zip(&payloads) {
        out.push(*index as u8);
        out.push(*grain as u8);
        put_varint(&mut out, entries.len() as u64);
        put_varint(&mut out, payload.len() as u64);
    }
    put_varint(&mut out, visitors.len() as u64);
    out.extend_from_slice(&visitors);
    payloads.iter().for_each(|payload| out.extend_from_slice(payload));
    Ok(out)
}

/// The block of `day` after its entries of `hours` are replaced by `rows` (hourly rows
/// of any dimensions, `total` and those of other days left out): how a recomputation
/// of some hours, or retention of the first ones, rewrites a stored day. The entries
/// of `old` outside `hours` are kept as they are. `None` when nothing is left.
pub fn replace(old: Option<&[u8]>, day: i64, hours: Hours, rows: &[Row]) -> Result<Option<Vec<u8>>, BlockError> {
    let mut kept: Vec<Row> = Vec::new();
    if let Some(old) = old {
        let block = Block::open(old)?;
        if block.day() != day {
            return Err(DecodeError::Invalid("block day").into());
        }
        let before = Filter { values: None, from_us: day, to_us: hours.lo.clamp(day, day + DAY_US), visitors: true };
        let after = Filter { from_us: hours.hi.clamp(day, day + DAY_US), to_us: day + DAY_US, ..before };
        for dimension in &DIMENSIONS[1..] {
            for filter in [&before, &after] {
                block.rows(dimension, filter, &mut |row| kept.push(row))?;
            }
        }
    }
    let mut new = rows.iter().filter(|r| r.dimension != "total" && (day..day + DAY_US).contains(&r.hour)).peekable();
    if kept.is_empty() && new.peek().is_none() {
        return Ok(None);
    }
    encode_rows(day, new.chain(&kept), &[]).map(Some)
}

/// One dimension's entries (sorted by value, then hour) as a section.
fn encode_section(day: i64, grain: Grain, entries: &[&Row], places: &FxHashMap<i64, u32>) -> Vec<u8> {
    let mut out = Vec::new();
    let values: Vec<Option<&str>> = entries.iter().map(|row| row.value.as_deref()).collect();
    dict::encode_into(&DictColumn::from_values(&values), &mut out);
    if grain == Grain::Hour {
        let hours: Vec<i64> = entries.iter().map(|row| (row.hour - day) / HOUR_US).collect();
        ints::encode_into(&hours, &mut out);
    }
    let counts: Vec<[i64; COUNTS]> = entries.iter().map(|row| counts_of(row)).collect();
    for column in 0..COUNTS {
        let values: Vec<i64> = counts.iter().map(|c| c[column]).collect();
        ints::encode_into(&values, &mut out);
    }
    let (mut sizes, mut positions, mut registers) = (Vec::with_capacity(entries.len()), Vec::new(), Vec::new());
    for row in entries {
        match row.visitors.repr() {
            Repr::Explicit(list) => {
                sizes.push(list.len() as i64);
                let mut previous = 0;
                for (i, hash) in list.iter().enumerate() {
                    // Every hash of an explicit list has a place, both ascending.
                    let at = places.get(hash).map_or(0, |&at| i64::from(at));
                    positions.push(if i == 0 { at } else { at - previous });
                    previous = at;
                }
            }
            Repr::Full(_) => {
                sizes.push(-1);
                let bytes = row.visitors.to_bytes();
                put_varint(&mut registers, bytes.len() as u64);
                registers.extend_from_slice(&bytes);
            }
            Repr::Empty | Repr::Undefined => sizes.push(0),
        }
    }
    ints::encode_into(&sizes, &mut out);
    ints::encode_into(&positions, &mut out);
    zblock::compress_into(&registers, &mut out);
    out
}

/// What [`Block::rows`] returns.
#[derive(Debug, Clone, Copy)]
pub struct Filter<'v> {
    /// Only the entries of these values; every value's when `None`.
    pub values: Option<&'v [Option<String>]>,
    /// Only the entries whose hour, or whole day, lies in [from_us, to_us).
    pub from_us: i64,
    pub to_us: i64,
    /// Whether to read the visitors: without, each row's sketch is empty and the
    /// visitor hashes are not decoded.
    pub visitors: bool,
}

/// An opened block: its directory read, nothing decoded yet.
#[derive(Debug)]
pub struct Block<'a> {
    day: i64,
    params: Params,
    sections: Vec<Section<'a>>,
    visitors: &'a [u8],
}

#[derive(Debug)]
struct Section<'a> {
    dimension: usize,
    grain: Grain,
    entries: usize,
    bytes: &'a [u8],
}

impl<'a> Block<'a> {
    /// Reads the header and directory of `bytes`.
    pub fn open(bytes: &'a [u8]) -> Result<Block<'a>, BlockError> {
        let mut cur = Cursor::new(bytes);
        if cur.u8("block version")? != VERSION {
            return Err(DecodeError::Invalid("block version").into());
        }
        let day = cur.varint_i64("block day")?;
        if day.rem_euclid(DAY_US) != 0 {
            return Err(DecodeError::Invalid("block day").into());
        }
        let header = cur.take(2, "visitor sketch parameters")?;
        let params = Params::from_header(header[0], header[1])?;
        let count = cur.count(DIMENSIONS.len(), "block sections")?;
        let mut directory = Vec::with_capacity(count);
        for _ in 0..count {
            let dimension = cur.u8("section dimension")? as usize;
            if dimension >= DIMENSIONS.len() {
                return Err(DecodeError::Invalid("section dimension").into());
            }
            let grain = Grain::from_tag(cur.u8("section grain")?)?;
            let entries = cur.count(MAX_VALUES, "section entries")?;
            let len = cur.count(bytes.len(), "section length")?;
            directory.push((dimension, grain, entries, len));
        }
        let len = cur.count(bytes.len(), "visitor hashes length")?;
        let visitors = cur.take(len, "visitor hashes")?;
        let mut sections = Vec::with_capacity(count);
        for (dimension, grain, entries, len) in directory {
            sections.push(Section { dimension, grain, entries, bytes: cur.take(len, "block section")? });
        }
        cur.finish()?;
        Ok(Block { day, params, sections, visitors })
    }

    /// The UTC midnight the block's day starts at.
    pub fn day(&self) -> i64 {
        self.day
    }

    /// How `dimension` is kept in this block, `None` when the day has no row of it.
    pub fn grain(&self, dimension: &str) -> Option<Grain> {
        self.section(dimension).map(|s| s.grain)
    }

    /// How many entries `dimension` has (values, or values and hours), without decoding.
    pub fn entries(&self, dimension: &str) -> usize {
        self.section(dimension).map_or(0, |s| s.entries)
    }

    /// The stored bytes of each dimension's section, in directory order, and of the
    /// visitor hashes: what the size bench reports.
    pub fn sizes(&self) -> (Vec<(&'static str, usize)>, usize) {
        (self.sections.iter().map(|s| (DIMENSIONS[s.dimension], s.bytes.len())).collect(), self.visitors.len())
    }

    fn section(&self, dimension: &str) -> Option<&Section<'a>> {
        self.sections.iter().find(|s| DIMENSIONS[s.dimension] == dimension)
    }

    /// Each entry of `dimension` that `filter` takes, as a row of `tally.rollups`
    /// (or of `tally.rollups_daily` for a daily section: its hour is the day).
    pub fn rows(&self, dimension: &str, filter: &Filter<'_>, each: &mut dyn FnMut(Row)) -> Result<(), BlockError> {
        let Some(section) = self.section(dimension) else { return Ok(()) };
        if section.grain == Grain::Day && !(filter.from_us <= self.day && self.day + DAY_US <= filter.to_us) {
            return Ok(());
        }
        let n = section.entries;
        let column = |values: Vec<i64>| if values.len() == n { Ok(values) } else { Err(DecodeError::Invalid("section column length")) };
        let mut cur = Cursor::new(section.bytes);
        let values = dict::decode_from(&mut cur)?;
        if values.len() != n {
            return Err(DecodeError::Invalid("section column length").into());
        }
        let hours = match section.grain {
            Grain::Hour => column(ints::decode_from(&mut cur)?)?
                .into_iter()
                .map(|h| if (0..24).contains(&h) { Ok(self.day + h * HOUR_US) } else { Err(DecodeError::Invalid("block hour")) })
                .collect::<Result<Vec<i64>, _>>()?,
            Grain::Day => vec![self.day; n],
        };
        let wanted: Vec<bool> = match filter.values {
            None => vec![true; values.dict.len() + 1],
            Some(list) => {
                let mut wanted = vec![false; values.dict.len() + 1];
                for value in list {
                    let code = match value {
                        None => Some(dict::NULL_CODE),
                        Some(v) => values.code_of(v),
                    };
                    if let Some(code) = code {
                        wanted[code as usize] = true;
                    }
                }
                wanted
            }
        };
        let taken: Vec<bool> = (0..n)
            .map(|i| wanted[values.codes[i] as usize] && filter.from_us <= hours[i] && hours[i] + period(section.grain) <= filter.to_us)
            .collect();
        let mut counts = Vec::with_capacity(COUNTS);
        for _ in 0..COUNTS {
            counts.push(column(ints::decode_from(&mut cur)?)?);
        }
        let sketches = if filter.visitors { Some(self.sketches(&mut cur, &taken)?) } else { None };
        let dimension = DIMENSIONS[section.dimension];
        let mut sketches = sketches.map(Vec::into_iter);
        for i in (0..n).filter(|&i| taken[i]) {
            let c = |k: usize| counts[k][i];
            let visitors = match &mut sketches {
                Some(s) => s.next().ok_or(DecodeError::Invalid("visitor sets"))?,
                None => Hll::new(self.params),
            };
            each(Row {
                hour: hours[i],
                dimension,
                value: values.resolve(values.codes[i]).map(str::to_owned),
                acc: Acc {
                    events: c(0) as u64,
                    pageviews: c(1) as u64,
                    visits: c(2) as u64,
                    bounces: c(3) as u64,
                    duration_us: c(4) as u64,
                    visit_pageviews: c(5) as u64,
                    engagement_ms: c(6) as u64,
                    ..Acc::default()
                },
                open_visits: c(7),
                mixed_visits: c(8),
                visitors,
                visit_durations: None,
                engagement_times: None,
            });
        }
        Ok(())
    }

    /// The visitor sets of the `taken` entries, in entry order, from the rest of a
    /// section.
    fn sketches(&self, cur: &mut Cursor<'_>, taken: &[bool]) -> Result<Vec<Hll>, BlockError> {
        let sizes = ints::decode_from(cur)?;
        let positions = ints::decode_from(cur)?;
        let registers = zblock::decompress_from(cur)?;
        if cur.remaining() != 0 {
            return Err(DecodeError::TrailingBytes(cur.remaining()).into());
        }
        if sizes.len() != taken.len() || sizes.iter().any(|&s| s < -1) {
            return Err(DecodeError::Invalid("visitor set sizes").into());
        }
        if sizes.iter().filter(|&&s| s > 0).map(|&s| s as u64).sum::<u64>() != positions.len() as u64 {
            return Err(DecodeError::Invalid("visitor positions").into());
        }
        let hashes = ints::decode(self.visitors)?;
        let mut registers = Cursor::new(&registers);
        let (mut out, mut next) = (Vec::new(), 0usize);
        for (&size, &take) in sizes.iter().zip(taken) {
            let set = if size < 0 {
                let len = registers.count(MAX_VALUES, "registers length")?;
                let bytes = registers.take(len, "registers")?;
                take.then(|| Hll::from_bytes(bytes)).transpose()?
            } else {
                let own = &positions[next..next + size as usize];
                next += size as usize;
                take.then(|| self.explicit(own, &hashes)).transpose()?
            };
            if let Some(set) = set {
                self.params.check_same(&set.params())?;
                out.push(set);
            }
        }
        registers.finish()?;
        Ok(out)
    }

    /// The explicit set of the hashes at `gaps` (the first position, then gaps).
    fn explicit(&self, gaps: &[i64], hashes: &[i64]) -> Result<Hll, BlockError> {
        let mut list = Vec::with_capacity(gaps.len());
        let mut at = 0i64;
        for (i, &gap) in gaps.iter().enumerate() {
            if i > 0 && gap <= 0 {
                return Err(DecodeError::Invalid("visitor position gap").into());
            }
            at = at.checked_add(gap).ok_or(DecodeError::Invalid("visitor position"))?;
            let hash = usize::try_from(at).ok().and_then(|at| hashes.get(at)).ok_or(DecodeError::Invalid("visitor position"))?;
            list.push(*hash);
        }
        let mut set = Hll::new(self.params);
        set.add_all(&mut list);
        Ok(set)
    }
}

/// How long an entry of `grain` lasts.
fn period(grain: Grain) -> i64 {
    match grain {
        Grain::Hour => HOUR_US,
        Grain::Day => DAY_US,
    }
}

#[cfg(test)]
mod tests;
