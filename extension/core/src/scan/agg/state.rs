//! Grouped aggregation over decoded segments: each key's values become small codes
//! (string columns through one dictionary for the whole query, so a segment's codes
//! translate once per distinct value; integers and time buckets through a value
//! table), a group is the packed codes of its keys (a plain array lookup for one key,
//! a hash lookup for several), and every aggregate keeps one vector per figure
//! indexed by group. The vectors grow with the groups, never with the rows.

use std::borrow::Cow;

use rustc_hash::{FxHashMap, FxHashSet};

use crate::codec::dict::NULL_CODE;
use crate::interrupt::{Cancelled, Interrupt};
use crate::query::groups::GroupTable;
use crate::query::intern::Interner;
use crate::scan::{CodeFilter, Decoded};
use crate::segment::{Column, IntColumn};

use super::buckets::Buckets;
use super::chunk::{counting, figures, passes, Chunk, Source};
use super::spec::{Func, Key, Spec};

/// Most combinations of a segment's key values grouped through a dense table.
const DENSE_LOCAL: usize = 1 << 16;

/// No group yet, in a dense table.
const NO_GROUP: u32 = u32::MAX;

/// Which rows an aggregate counts (its `FILTER` clause).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    /// Every row of its group.
    All,
    /// Rows passing every code filter.
    Codes(Vec<CodeFilter>),
    /// No row (a comparison with NULL).
    Nothing,
}

/// A key or an aggregate's value in a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value<'a> {
    Null,
    Int(i64),
    /// A sum (wider than any column's values).
    Wide(i128),
    /// The sum and count an average divides.
    Avg {
        sum: i128,
        count: i64,
    },
    Str(&'a str),
}

/// A code filter on one segment: the column's codes and, per code, whether it passes.
type Mask<'d> = (&'d [u32], Vec<bool>);

/// Codes of one integer key's values, NULL being [`NULL_CODE`].
#[derive(Debug, Default)]
struct IntCodes {
    codes: FxHashMap<i64, u32>,
    values: Vec<i64>,
    last: Option<(i64, u32)>,
}

impl IntCodes {
    #[inline]
    fn code(&mut self, value: Option<i64>) -> u32 {
        let Some(value) = value else { return NULL_CODE };
        if let Some((v, code)) = self.last {
            if v == value {
                return code;
            }
        }
        let next = self.values.len() as u32 + 1;
        let code = *self.codes.entry(value).or_insert(next);
        if code == next {
            self.values.push(value);
        }
        self.last = Some((value, code));
        code
    }

    fn value(&self, code: u32) -> Option<i64> {
        code.checked_sub(1).and_then(|i| self.values.get(i as usize)).copied()
    }
}

/// How one key's values become codes.
#[derive(Debug)]
enum Coder {
    Str(Interner),
    Int(IntCodes),
    Trunc(Buckets, IntCodes),
}

/// One aggregate's figures, per group.
#[derive(Debug)]
enum Acc {
    Count(Vec<i64>),
    /// Sums and the counts of values summed (NULL when none).
    Sum {
        sums: Vec<i128>,
        counts: Vec<i64>,
    },
    Extreme {
        values: Vec<i64>,
        set: Vec<bool>,
        max: bool,
    },
    /// (group, value) pairs seen, strings by their code in `strings`; counted at the end.
    Distinct {
        strings: Interner,
        seen: FxHashSet<(u32, i64)>,
        counts: Vec<i64>,
    },
}

impl Acc {
    fn new(func: Func) -> Acc {
        match func {
            Func::CountRows | Func::Count(_) => Acc::Count(Vec::new()),
            Func::Sum(_) | Func::Avg(_) | Func::SumOrZero(_) | Func::SumConst(_) | Func::SumConstOrZero(_) => {
                Acc::Sum { sums: Vec::new(), counts: Vec::new() }
            }
            Func::Min(_) | Func::Max(_) => Acc::Extreme { values: Vec::new(), set: Vec::new(), max: matches!(func, Func::Max(_)) },
            Func::CountDistinct(_) => Acc::Distinct { strings: Interner::default(), seen: FxHashSet::default(), counts: Vec::new() },
        }
    }

    fn grow(&mut self, groups: usize) {
        match self {
            Acc::Count(counts) => counts.resize(groups, 0),
            Acc::Sum { sums, counts } => {
                sums.resize(groups, 0);
                counts.resize(groups, 0);
            }
            Acc::Extreme { values, set, .. } => {
                values.resize(groups, 0);
                set.resize(groups, false);
            }
            Acc::Distinct { .. } => {}
        }
    }
}

/// The state of one grouped aggregation.
#[derive(Debug)]
pub struct Aggregation {
    spec: Spec,
    filters: Vec<Filter>,
    coders: Vec<Coder>,
    groups: GroupTable,
    accs: Vec<Acc>,
    /// Scratch of the dense path of [`Aggregation::group_ids`]: group per combination.
    dense: Vec<u32>,
}

impl Aggregation {
    /// An aggregation of `spec`, `filters` holding each function's `FILTER`. With no
    /// key there is one group, whatever the rows: `count(*)` of nothing is 0.
    pub fn new(spec: Spec, filters: Vec<Filter>) -> Aggregation {
        assert_eq!(spec.funcs.len(), filters.len(), "a filter per function");
        let coders = spec
            .keys
            .iter()
            .map(|key| match key {
                Key::Trunc(_) => Coder::Trunc(Buckets::default(), IntCodes::default()),
                Key::Column(c) if crate::segment::kind_of(*c) == crate::segment::Kind::Str => Coder::Str(Interner::default()),
                Key::Column(_) => Coder::Int(IntCodes::default()),
                Key::Prop(_) => Coder::Str(Interner::default()),
            })
            .collect();
        let mut groups = GroupTable::default();
        if spec.keys.is_empty() {
            groups.group(0);
        }
        let mut accs: Vec<Acc> = spec.funcs.iter().map(|&f| Acc::new(f)).collect();
        for acc in &mut accs {
            acc.grow(groups.keys().len());
        }
        Aggregation { spec, filters, coders, groups, accs, dense: Vec::new() }
    }

    /// The columns to decode: the spec's and the filters'.
    pub fn columns(&self) -> Vec<usize> {
        let mut columns = self.spec.columns();
        for filter in &self.filters {
            if let Filter::Codes(codes) = filter {
                columns.extend(codes.iter().map(CodeFilter::column));
            }
        }
        columns.sort_unstable();
        columns.dedup();
        columns
    }

    pub fn spec(&self) -> &Spec {
        &self.spec
    }

    /// Adds the selected rows of `decoded`; `trunc` truncates a timestamp as
    /// `date_trunc(unit, ts)` of the key's unit does (the query has at most one unit
    /// per key, and the caller binds each), `interrupt` is asked between chunks.
    pub fn add(&mut self, decoded: &Decoded, trunc: &mut dyn FnMut(usize, i64) -> i64, interrupt: Interrupt<'_>) -> Result<(), Cancelled> {
        if decoded.rows.is_empty() {
            return Ok(());
        }
        let column = |c: usize| decoded.columns[c].as_ref().expect("the aggregation's columns are decoded");
        // The values of each property key, as string columns of the segment.
        let props: Vec<Column> = match self.spec.keys.iter().find(|k| matches!(k, Key::Prop(_))) {
            None => Vec::new(),
            Some(key) => match column(key.source()) {
                Column::Props(props) => self.spec.props.iter().map(|name| Column::Str(props.values_of(name))).collect(),
                _ => unreachable!("props is a properties column"),
            },
        };
        let keys: Vec<&Column> = self
            .spec
            .keys
            .iter()
            .map(|&key| match key {
                Key::Prop(i) => &props[i],
                _ => column(key.source()),
            })
            .collect();
        // Per key: the translation of the segment's string codes.
        let tables: Vec<Vec<u32>> = self
            .coders
            .iter_mut()
            .zip(&keys)
            .map(|(coder, &key)| match (coder, key) {
                (Coder::Str(interner), Column::Str(dict)) => interner.translation(dict),
                _ => Vec::new(),
            })
            .collect();
        // Per function: its filter's code columns and accepted codes, and for a
        // distinct count of strings the translation of the segment's codes.
        let masks: Vec<Option<Vec<Mask<'_>>>> = self
            .filters
            .iter()
            .map(|f| match f {
                Filter::All => Some(Vec::new()),
                Filter::Nothing => None,
                Filter::Codes(filters) => Some(
                    filters
                        .iter()
                        .map(|f| match column(f.column()) {
                            Column::Str(dict) => (dict.codes.as_slice(), f.accepted(dict)),
                            _ => unreachable!("code filters are on string columns"),
                        })
                        .collect(),
                ),
            })
            .collect();
        let distinct_tables: Vec<Vec<u32>> = self
            .accs
            .iter_mut()
            .zip(&self.spec.funcs)
            .map(|(acc, func)| match (acc, func.source().map(column)) {
                (Acc::Distinct { strings, .. }, Some(Column::Str(dict))) => strings.translation(dict),
                _ => Vec::new(),
            })
            .collect();
        // With no key, a count of every row is the number of rows, added at once; when
        // every function is such a count, no row is visited.
        let whole: Vec<bool> =
            self.spec.funcs.iter().zip(&masks).map(|(&func, mask)| self.coders.is_empty() && counts_rows(func, mask.as_deref())).collect();
        for (acc, _) in self.accs.iter_mut().zip(&whole).filter(|(_, &whole)| whole) {
            let Acc::Count(counts) = acc else { unreachable!("a count of rows counts") };
            counts[0] += decoded.rows.len() as i64;
        }
        if self.coders.is_empty() && whole.iter().all(|&w| w) {
            return interrupt();
        }
        for chunk in Chunk::all(&decoded.rows) {
            interrupt()?;
            let grouping = self.group(chunk, &keys, &tables, trunc);
            let Aggregation { spec, accs, groups, dense, .. } = self;
            let groups = groups.keys().len();
            // The group of each row, listed only when a function needs it.
            let mut ids: Option<Cow<'_, [u32]>> = None;
            for (i, acc) in accs.iter_mut().enumerate().filter(|(i, _)| !whole[*i]) {
                acc.grow(groups);
                let func = spec.funcs[i];
                let pass: Option<Vec<bool>> = match &masks[i] {
                    // A comparison with NULL passes no row, but a sum of zeros counts each.
                    None if func.zero_otherwise() => Some(vec![false; chunk.len()]),
                    None => continue,
                    Some(mask) if mask.is_empty() => None,
                    Some(mask) => {
                        let mask: Vec<(Cow<'_, [u32]>, &[bool])> =
                            mask.iter().map(|(codes, ok)| (chunk.gather(codes), ok.as_slice())).collect();
                        Some((0..chunk.len()).map(|r| mask.iter().all(|(codes, ok)| ok[codes[r] as usize])).collect())
                    }
                };
                let source = Source::of(func.source().map(column), chunk);
                match (&grouping, acc) {
                    // Counts and sums gathered per combination of the keys' local
                    // codes, then added to the combinations' groups.
                    (Grouping::Dense { local, combinations }, acc) if counting(func) => {
                        let mut counts = vec![0i64; *combinations];
                        let mut sums = match acc {
                            Acc::Sum { .. } => vec![0i128; *combinations],
                            _ => Vec::new(),
                        };
                        figures(func, &source, pass.as_deref(), local, &mut counts, &mut sums);
                        let slots = dense.iter().enumerate().filter(|(_, &g)| g != NO_GROUP);
                        match acc {
                            Acc::Count(to) => slots.for_each(|(c, &g)| to[g as usize] += counts[c]),
                            Acc::Sum { sums: to_sums, counts: to_counts } => slots.for_each(|(c, &g)| {
                                to_sums[g as usize] += sums[c];
                                to_counts[g as usize] += counts[c];
                            }),
                            _ => unreachable!("counting functions keep counts and sums"),
                        }
                    }
                    (grouping, acc) => {
                        let ids = ids.get_or_insert_with(|| match grouping {
                            Grouping::Ids(ids) => Cow::Borrowed(ids.as_slice()),
                            Grouping::Dense { local, .. } => Cow::Owned(local.iter().map(|&c| dense[c as usize]).collect()),
                        });
                        match acc {
                            Acc::Count(counts) => figures(func, &source, pass.as_deref(), ids, counts, &mut []),
                            Acc::Sum { sums, counts } => figures(func, &source, pass.as_deref(), ids, counts, sums),
                            acc => update(acc, func, &source, pass.as_deref(), ids, &distinct_tables[i]),
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// How the rows of `chunk` fall into groups, new groups numbered as met.
    ///
    /// Each key's part of a row is first a small number local to the segment (a
    /// string's code in the segment's dictionary, an integer's or bucket's query code),
    /// and a part equal on every row (the site of a segment, the day of a day's
    /// segment) is left out of the rows. When the product of the other parts' ranges
    /// is small, a row's combination of parts is one number, and the query-wide key is
    /// packed and looked up once per combination met rather than once per row.
    fn group<'d>(
        &mut self,
        chunk: Chunk<'_>,
        keys: &[&'d Column],
        tables: &[Vec<u32>],
        trunc: &mut dyn FnMut(usize, i64) -> i64,
    ) -> Grouping<'d> {
        let rows = chunk.len();
        let parts: Vec<Part<'d>> = self
            .coders
            .iter_mut()
            .zip(keys)
            .enumerate()
            .map(|(k, (coder, &column))| match (coder, column) {
                (Coder::Str(_), Column::Str(dict)) => Part::of(chunk.gather(&dict.codes), tables[k].len()),
                (Coder::Int(codes), Column::Int(IntColumn { values, validity })) => {
                    let values = chunk.gather(values);
                    match validity {
                        None if same(&values) => Part::Const(codes.code(Some(values[0]))),
                        None => Part::Codes(Cow::Owned(values.iter().map(|&v| codes.code(Some(v))).collect()), 0),
                        Some(validity) => {
                            let validity = chunk.gather(validity);
                            let part = values.iter().zip(validity.iter()).map(|(&v, &ok)| codes.code(ok.then_some(v))).collect();
                            Part::of(Cow::Owned(part), 0)
                        }
                    }
                    .with_range(codes.values.len() + 1)
                }
                (Coder::Trunc(buckets, codes), Column::Int(IntColumn { values, .. })) => {
                    let values = chunk.gather(values);
                    let mut bucket = |ts: i64| codes.code(Some(buckets.of(ts, &mut |ts| trunc(k, ts))));
                    // date_trunc is monotone: when the earliest and latest rows share a
                    // bucket, every row does.
                    let (lo, hi) = values.iter().fold((i64::MAX, i64::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
                    let (first, last) = (bucket(lo), bucket(hi));
                    match first == last {
                        true => Part::Const(first),
                        false => Part::Codes(Cow::Owned(values.iter().map(|&v| bucket(v)).collect()), 0),
                    }
                    .with_range(codes.values.len() + 1)
                }
                _ => unreachable!("a key's coder fits its column"),
            })
            .collect();
        // The query-wide key of a row's local parts.
        let coders = &self.coders;
        let key_of = |local: &dyn Fn(usize, &Part<'_>) -> u32| -> u128 {
            parts.iter().zip(coders).enumerate().fold(0u128, |key, (p, (part, coder))| {
                let code = match coder {
                    Coder::Str(_) => tables[p][local(p, part) as usize],
                    Coder::Int(_) | Coder::Trunc(..) => local(p, part),
                };
                key | (u128::from(code) << (32 * p))
            })
        };
        let combinations = parts.iter().try_fold(1usize, |n, part| n.checked_mul(part.range()).filter(|&n| n <= DENSE_LOCAL));
        match combinations {
            Some(combinations) if combinations <= 4 * rows + 64 => {
                // A row's combination: its varying parts, each scaled by the ranges
                // of those before it (loops the compiler vectorises).
                let strides: Vec<usize> =
                    parts.iter().scan(1, |stride, part| Some(std::mem::replace(stride, *stride * part.range()))).collect();
                let mut varying = parts.iter().zip(&strides).filter_map(|(part, &stride)| match part {
                    Part::Codes(codes, _) => Some((codes, stride as u32)),
                    Part::Const(_) => None,
                });
                let local: Cow<'d, [u32]> = match (varying.next(), varying.next()) {
                    (None, _) => Cow::Owned(vec![0; rows]),
                    // Alone, a part's stride is 1 (the parts before it are constants).
                    (Some((codes, _)), None) => codes.clone(),
                    (Some((first, s0)), second) => {
                        let mut local: Vec<u32> = first.iter().map(|&c| c * s0).collect();
                        for (codes, stride) in second.into_iter().chain(varying) {
                            local.iter_mut().zip(codes.iter()).for_each(|(l, &c)| *l += c * stride);
                        }
                        Cow::Owned(local)
                    }
                };
                let dense = &mut self.dense;
                dense.clear();
                dense.resize(combinations, NO_GROUP);
                let groups = &mut self.groups;
                let strides = &strides;
                let part_of = |combination: usize| {
                    move |p: usize, part: &Part<'_>| match part {
                        Part::Const(code) => *code,
                        Part::Codes(_, range) => ((combination / strides[p]) % range) as u32,
                    }
                };
                for &c in local.iter() {
                    let slot = &mut dense[c as usize];
                    if *slot == NO_GROUP {
                        *slot = groups.group(key_of(&part_of(c as usize)));
                    }
                }
                Grouping::Dense { local, combinations }
            }
            // Rows come sorted by visitor and visit, so neighbours often share keys
            // (a visitor's browser and device): the last key's group is kept.
            _ => {
                let mut last: Option<(u128, u32)> = None;
                let ids = (0..rows)
                    .map(|i| {
                        let key = key_of(&|_, part: &Part<'_>| match part {
                            Part::Const(code) => *code,
                            Part::Codes(codes, _) => codes[i],
                        });
                        match last {
                            Some((k, group)) if k == key => group,
                            _ => {
                                let group = self.groups.group(key);
                                last = Some((key, group));
                                group
                            }
                        }
                    })
                    .collect();
                Grouping::Ids(ids)
            }
        }
    }

    /// The groups with the value of integer key `by` replaced by each of
    /// `targets(value)`, groups that meet combined: the inner join of the groups with
    /// rows that carry other keys for a value (a site's domain for its `site_id`),
    /// computed on the groups instead of on every row. A target listed twice counts
    /// its group twice, as a joined row met twice would; a group whose value has no
    /// target is dropped. Call before [`Aggregation::finish`].
    pub fn regroup(self, by: usize, targets: impl Fn(Option<i64>) -> Vec<i64>) -> Aggregation {
        let Aggregation { spec, filters, mut coders, groups, accs, .. } = self;
        let old = std::mem::replace(&mut coders[by], Coder::Int(IntCodes::default()));
        let Coder::Int(old) = old else { panic!("regrouping by a key that is not an integer column") };
        let Coder::Int(codes) = &mut coders[by] else { unreachable!("just set") };
        let mask = !(u128::from(u32::MAX) << (32 * by));
        let mut table = GroupTable::default();
        // Per old group, the new groups it goes to.
        let moves: Vec<Vec<u32>> = groups
            .keys()
            .iter()
            .map(|&key| {
                let value = old.value((key >> (32 * by)) as u32);
                let rest = key & mask;
                targets(value).into_iter().map(|t| table.group(rest | (u128::from(codes.code(Some(t))) << (32 * by)))).collect()
            })
            .collect();
        let len = table.keys().len();
        let accs = accs
            .into_iter()
            .zip(&spec.funcs)
            .map(|(acc, &func)| {
                let mut new = Acc::new(func);
                new.grow(len);
                let each = |f: &mut dyn FnMut(usize, usize)| {
                    for (g, to) in moves.iter().enumerate() {
                        to.iter().for_each(|&n| f(g, n as usize));
                    }
                };
                match (acc, &mut new) {
                    (Acc::Count(old), Acc::Count(counts)) => each(&mut |g, n| counts[n] += old[g]),
                    (Acc::Sum { sums: old_sums, counts: old_counts }, Acc::Sum { sums, counts }) => each(&mut |g, n| {
                        sums[n] += old_sums[g];
                        counts[n] += old_counts[g];
                    }),
                    (Acc::Extreme { values: old_values, set: old_set, max }, Acc::Extreme { values, set, .. }) => each(&mut |g, n| {
                        let v = old_values[g];
                        if old_set[g] && (!set[n] || (max && v > values[n]) || (!max && v < values[n])) {
                            values[n] = v;
                            set[n] = true;
                        }
                    }),
                    (Acc::Distinct { strings: old_strings, seen: old_seen, .. }, Acc::Distinct { strings, seen, .. }) => {
                        *strings = old_strings;
                        for (g, value) in old_seen {
                            seen.extend(moves[g as usize].iter().map(|&n| (n, value)));
                        }
                    }
                    _ => unreachable!("a function keeps its figures"),
                }
                new
            })
            .collect();
        Aggregation { spec, filters, coders, groups: table, accs, dense: Vec::new() }
    }

    /// Completes the distinct counts; call once, after the last [`Aggregation::add`].
    pub fn finish(&mut self) {
        let groups = self.groups.keys().len();
        for acc in &mut self.accs {
            if let Acc::Distinct { seen, counts, strings } = acc {
                counts.resize(groups, 0);
                for &(group, _) in seen.iter() {
                    counts[group as usize] += 1;
                }
                *seen = FxHashSet::default();
                *strings = Interner::default();
            }
        }
    }

    /// How many groups there are.
    pub fn len(&self) -> usize {
        self.groups.keys().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Key `part` of group `group`.
    pub fn key(&self, group: usize, part: usize) -> Value<'_> {
        let code = (self.groups.keys()[group] >> (32 * part)) as u32;
        let int = |v: Option<i64>| v.map_or(Value::Null, Value::Int);
        match &self.coders[part] {
            Coder::Str(interner) => interner.value(code).map_or(Value::Null, Value::Str),
            Coder::Int(codes) | Coder::Trunc(_, codes) => int(codes.value(code)),
        }
    }

    /// Function `func`'s value in group `group` (after [`Aggregation::finish`]).
    pub fn value(&self, group: usize, func: usize) -> Value<'_> {
        let present = |n: i64, v: Value<'static>| if n == 0 { Value::Null } else { v };
        match &self.accs[func] {
            Acc::Count(counts) | Acc::Distinct { counts, .. } => Value::Int(counts.get(group).copied().unwrap_or(0)),
            Acc::Sum { sums, counts } => match self.spec.funcs[func] {
                Func::Avg(_) => present(counts[group], Value::Avg { sum: sums[group], count: counts[group] }),
                _ => present(counts[group], Value::Wide(sums[group])),
            },
            Acc::Extreme { values, set, .. } => match set[group] {
                true => Value::Int(values[group]),
                false => Value::Null,
            },
        }
    }
}

/// One key's local codes over a chunk.
enum Part<'d> {
    /// The same code on every row.
    Const(u32),
    /// A code per row, and how many codes the key can take in this segment.
    Codes(Cow<'d, [u32]>, usize),
}

impl<'d> Part<'d> {
    /// The part of `codes`, of `range` values, folded to [`Part::Const`] when all equal.
    fn of(codes: Cow<'d, [u32]>, range: usize) -> Part<'d> {
        match same(&codes) {
            true => Part::Const(codes[0]),
            false => Part::Codes(codes, range),
        }
    }

    fn with_range(self, range: usize) -> Part<'d> {
        match self {
            Part::Codes(codes, _) => Part::Codes(codes, range),
            constant => constant,
        }
    }

    /// How many values the part spreads a chunk's rows over: 1 for a constant.
    fn range(&self) -> usize {
        match self {
            Part::Const(_) => 1,
            Part::Codes(_, range) => *range,
        }
    }
}

/// Whether every value equals the first (and there is one).
fn same<T: PartialEq + Copy>(values: &[T]) -> bool {
    values.first().is_some_and(|&first| values.iter().all(|&v| v == first))
}

/// How a chunk's rows fall into groups.
enum Grouping<'d> {
    /// Row `i`'s combination of key parts is `local[i]`, below `combinations`; the
    /// group of a combination met is in the aggregation's dense table.
    Dense { local: Cow<'d, [u32]>, combinations: usize },
    /// Row `i`'s group.
    Ids(Vec<u32>),
}

/// Adds each row (its group in `ids`) that passes `pass` to `acc`, the figures of
/// `func` (a minimum, maximum or distinct count), reading `source`; `strings`
/// translates a distinct count's string codes.
fn update(acc: &mut Acc, func: Func, source: &Source<'_>, pass: Option<&[bool]>, ids: &[u32], strings: &[u32]) {
    let passes = |i: usize| passes(pass, i);
    match (acc, source) {
        (Acc::Extreme { values: best, set, max }, Source::Int { values, validity }) => {
            let max = *max;
            for (i, &g) in ids.iter().enumerate() {
                let g = g as usize;
                if passes(i) && Source::valid(validity, i) {
                    let v = values[i];
                    if !set[g] || (max && v > best[g]) || (!max && v < best[g]) {
                        best[g] = v;
                        set[g] = true;
                    }
                }
            }
        }
        // Rows come sorted by visitor and visit, so a value often repeats its
        // neighbour's within a group: the pair just inserted is not hashed again.
        (Acc::Distinct { seen, .. }, Source::Str(codes)) => {
            let mut last = None;
            for (i, &g) in ids.iter().enumerate() {
                let code = strings[codes[i] as usize];
                let pair = (g, i64::from(code));
                if passes(i) && code != NULL_CODE && last != Some(pair) {
                    seen.insert(pair);
                    last = Some(pair);
                }
            }
        }
        (Acc::Distinct { seen, .. }, Source::Int { values, validity }) => {
            let mut last = None;
            for (i, &g) in ids.iter().enumerate() {
                let pair = (g, values[i]);
                if passes(i) && Source::valid(validity, i) && last != Some(pair) {
                    seen.insert(pair);
                    last = Some(pair);
                }
            }
        }
        _ => unreachable!("{} reads the columns its spec allows", func.describe()),
    }
}

/// Whether `func` under `mask` (its filter's masks, `None` for no row) counts every row.
fn counts_rows(func: Func, mask: Option<&[Mask<'_>]>) -> bool {
    func == Func::CountRows && mask.is_some_and(|mask| mask.is_empty())
}
