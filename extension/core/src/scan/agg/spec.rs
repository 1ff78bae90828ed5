//! What an aggregate query over `tally.events` asks for, in the terms TallyAgg computes
//! it in: group keys (event columns and `date_trunc(unit, ts)`) and aggregate functions
//! over event columns. Whatever cannot be said here is not pushed down: the planner
//! keeps Postgres's own plan, so a shape left out costs speed, never an answer.

use crate::event::COLUMNS;
use crate::segment::{kind_of, Kind};

/// Most group keys pushed down: a group's key packs one 32-bit code per key into 128 bits.
pub const MAX_KEYS: usize = 4;

/// A `date_trunc` unit TallyAgg buckets by. Only hour and coarser: the scan asks
/// Postgres for the truncation once per UTC hour (see [`super::Buckets`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Hour,
    Day,
    Week,
    Month,
    Quarter,
    Year,
}

const UNITS: [Unit; 6] = [Unit::Hour, Unit::Day, Unit::Week, Unit::Month, Unit::Quarter, Unit::Year];

impl Unit {
    /// The unit of a `date_trunc` first argument, spelled as Postgres's documentation
    /// does (lower case); `None` for finer units and other spellings.
    pub fn parse(name: &str) -> Option<Unit> {
        UNITS.into_iter().find(|u| u.name() == name)
    }

    pub fn name(self) -> &'static str {
        match self {
            Unit::Hour => "hour",
            Unit::Day => "day",
            Unit::Week => "week",
            Unit::Month => "month",
            Unit::Quarter => "quarter",
            Unit::Year => "year",
        }
    }
}

/// A group key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// An event column (an index into [`COLUMNS`]): a string or integer column.
    Column(usize),
    /// `date_trunc(unit, ts)`.
    Trunc(Unit),
    /// `props ->> name`, the name being [`Spec::props`]`[i]`: the value of the
    /// property, NULL where the event has none.
    Prop(usize),
}

/// An aggregate function over the rows of a group. Columns are indices into [`COLUMNS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Func {
    /// `count(*)`.
    CountRows,
    /// `count(col)`: rows where the column is not NULL.
    Count(usize),
    /// `count(DISTINCT col)`.
    CountDistinct(usize),
    /// `sum(col)` of an integer column.
    Sum(usize),
    /// `avg(col)` of an integer column.
    Avg(usize),
    /// `min(col)` / `max(col)` of an integer or timestamp column.
    Min(usize),
    Max(usize),
    /// `sum(CASE WHEN filter THEN col ELSE 0 END)`: `sum(col)` over the rows its filter
    /// passes, and 0 rather than NULL once any row fails it (that row adds a 0).
    SumOrZero(usize),
    /// `sum(k)` of a constant over the rows its filter passes (`sum(CASE WHEN filter
    /// THEN k END)`); NULL when there is none.
    SumConst(i32),
    /// `sum(CASE WHEN filter THEN k ELSE 0 END)`: as [`Func::SumConst`], 0 once any
    /// row fails the filter.
    SumConstOrZero(i32),
}

/// Whether a column can be a group key or a counted value: strings and integers
/// (timestamps are integers), not properties.
fn scalar(column: usize) -> bool {
    column < COLUMNS.len() && kind_of(column) != Kind::Props
}

fn integer(column: usize) -> bool {
    column < COLUMNS.len() && matches!(kind_of(column), Kind::Int | Kind::NullableInt)
}

impl Key {
    /// The key of column `column`, if it can group.
    pub fn column(column: usize) -> Option<Key> {
        scalar(column).then_some(Key::Column(column))
    }

    /// The column the key reads.
    pub fn source(self) -> usize {
        match self {
            Key::Column(c) => c,
            Key::Trunc(_) => ts(),
            Key::Prop(_) => props(),
        }
    }
}

/// The index of `props` in [`COLUMNS`].
fn props() -> usize {
    crate::segment::index_of("props").expect("props is an event column")
}

/// The index of `ts` in [`COLUMNS`].
fn ts() -> usize {
    crate::segment::index_of("ts").expect("ts is an event column")
}

impl Func {
    /// The function `name` (`count`, `sum`, `avg`, `min`, `max`) over `column` (`None`
    /// for `count(*)`), `DISTINCT` or not, if TallyAgg computes it.
    pub fn new(name: &str, column: Option<usize>, distinct: bool) -> Option<Func> {
        let func = match (name, column, distinct) {
            ("count", None, false) => Func::CountRows,
            ("count", Some(c), false) if scalar(c) => Func::Count(c),
            ("count", Some(c), true) if scalar(c) => Func::CountDistinct(c),
            ("sum", Some(c), false) if integer(c) && c != ts() => Func::Sum(c),
            ("avg", Some(c), false) if integer(c) && c != ts() => Func::Avg(c),
            // The smallest of the distinct values is the smallest value.
            ("min", Some(c), _) if integer(c) => Func::Min(c),
            ("max", Some(c), _) if integer(c) => Func::Max(c),
            _ => return None,
        };
        Some(func)
    }

    /// The column the function reads, `None` for `count(*)`.
    pub fn source(self) -> Option<usize> {
        match self {
            Func::CountRows => None,
            Func::Count(c) | Func::CountDistinct(c) | Func::Sum(c) | Func::Avg(c) | Func::Min(c) | Func::Max(c) | Func::SumOrZero(c) => {
                Some(c)
            }
            Func::SumConst(_) | Func::SumConstOrZero(_) => None,
        }
    }

    /// `sum(CASE WHEN … THEN x ELSE 0 END)` of a column or constant `x` (`None` for
    /// another function): a row failing the function's filter adds a 0.
    pub fn or_zero(self) -> Option<Func> {
        match self {
            Func::Sum(c) => Some(Func::SumOrZero(c)),
            Func::SumConst(k) => Some(Func::SumConstOrZero(k)),
            _ => None,
        }
    }

    /// Whether a row failing the function's filter still counts, as a 0.
    pub fn zero_otherwise(self) -> bool {
        matches!(self, Func::SumOrZero(_) | Func::SumConstOrZero(_))
    }

    pub fn describe(self) -> String {
        let column = |c: usize| COLUMNS[c];
        match self {
            Func::CountRows => "count(*)".to_owned(),
            Func::Count(c) => format!("count({})", column(c)),
            Func::CountDistinct(c) => format!("count(DISTINCT {})", column(c)),
            Func::Sum(c) => format!("sum({})", column(c)),
            Func::Avg(c) => format!("avg({})", column(c)),
            Func::Min(c) => format!("min({})", column(c)),
            Func::Max(c) => format!("max({})", column(c)),
            Func::SumOrZero(c) => format!("sum({} ELSE 0)", column(c)),
            Func::SumConst(k) => format!("sum({k})"),
            Func::SumConstOrZero(k) => format!("sum({k} ELSE 0)"),
        }
    }

    /// `(tag, column)`, the form a plan keeps (see [`Spec::encode`]).
    fn encode(self) -> [i32; 2] {
        let c = |c: usize| c as i32;
        match self {
            Func::CountRows => [0, -1],
            Func::Count(x) => [1, c(x)],
            Func::CountDistinct(x) => [2, c(x)],
            Func::Sum(x) => [3, c(x)],
            Func::Avg(x) => [4, c(x)],
            Func::Min(x) => [5, c(x)],
            Func::Max(x) => [6, c(x)],
            Func::SumOrZero(x) => [7, c(x)],
            Func::SumConst(k) => [8, k],
            Func::SumConstOrZero(k) => [9, k],
        }
    }

    fn decode(tag: i32, column: i32) -> Option<Func> {
        let c = usize::try_from(column).ok();
        let func = match tag {
            0 => Func::CountRows,
            1 => Func::Count(c?),
            2 => Func::CountDistinct(c?),
            3 => Func::Sum(c?),
            4 => Func::Avg(c?),
            5 => Func::Min(c?),
            6 => Func::Max(c?),
            7 => return Func::new("sum", c, false)?.or_zero(),
            8 => return Some(Func::SumConst(column)),
            9 => return Some(Func::SumConstOrZero(column)),
            _ => return None,
        };
        let (name, distinct) = match func {
            Func::CountRows | Func::Count(_) => ("count", false),
            Func::CountDistinct(_) => ("count", true),
            Func::Sum(_) => ("sum", false),
            Func::Avg(_) => ("avg", false),
            Func::Min(_) => ("min", false),
            Func::Max(_) => ("max", false),
            Func::SumOrZero(_) | Func::SumConst(_) | Func::SumConstOrZero(_) => unreachable!("returned above"),
        };
        (Func::new(name, func.source(), distinct) == Some(func)).then_some(func)
    }
}

/// The group keys and aggregate functions of one pushed-down aggregation.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Spec {
    pub keys: Vec<Key>,
    pub funcs: Vec<Func>,
    /// The property names of the [`Key::Prop`] keys.
    pub props: Vec<String>,
}

impl Spec {
    /// The columns the keys and functions read, each once, in [`COLUMNS`] order.
    pub fn columns(&self) -> Vec<usize> {
        let mut columns: Vec<usize> = self.keys.iter().map(|k| k.source()).chain(self.funcs.iter().filter_map(|f| f.source())).collect();
        columns.sort_unstable();
        columns.dedup();
        columns
    }

    /// A readable form of `key` for EXPLAIN.
    pub fn describe_key(&self, key: Key) -> String {
        match key {
            Key::Column(c) => COLUMNS[c].to_owned(),
            Key::Trunc(unit) => format!("date_trunc('{}', ts)", unit.name()),
            Key::Prop(i) => format!("props ->> {:?}", self.props[i]),
        }
    }

    /// The key `props ->> name`, its name added to [`Spec::props`] unless there.
    pub fn prop_key(&mut self, name: &str) -> Key {
        let i = self.props.iter().position(|p| p == name).unwrap_or_else(|| {
            self.props.push(name.to_owned());
            self.props.len() - 1
        });
        Key::Prop(i)
    }

    /// The spec as integers, which a plan node keeps (and copies) as an integer list:
    /// `[props, (length, byte…)…, keys, (tag, arg)…, (tag, arg)…]`: the property names
    /// as UTF-8 bytes, then a key's tag is 0 for a column, 1 for `date_trunc` (its arg
    /// the unit's index), 2 for a property (its arg the name's index).
    pub fn encode(&self) -> Vec<i32> {
        let mut out = vec![self.props.len() as i32];
        for name in &self.props {
            out.push(name.len() as i32);
            out.extend(name.bytes().map(i32::from));
        }
        out.push(self.keys.len() as i32);
        for key in &self.keys {
            out.extend(match key {
                Key::Column(c) => [0, *c as i32],
                Key::Trunc(unit) => [1, UNITS.iter().position(|u| u == unit).expect("a unit") as i32],
                Key::Prop(i) => [2, *i as i32],
            });
        }
        for func in &self.funcs {
            out.extend(func.encode());
        }
        out
    }

    /// The spec [`Spec::encode`] wrote; `None` for anything else.
    pub fn decode(ints: &[i32]) -> Option<Spec> {
        let (&count, mut rest) = ints.split_first()?;
        let mut props = Vec::new();
        for _ in 0..usize::try_from(count).ok().filter(|&n| n <= MAX_KEYS)? {
            let (&len, after) = rest.split_first()?;
            let len = usize::try_from(len).ok().filter(|&n| n <= after.len())?;
            let bytes = after[..len].iter().map(|&b| u8::try_from(b).ok()).collect::<Option<Vec<u8>>>()?;
            props.push(String::from_utf8(bytes).ok()?);
            rest = &after[len..];
        }
        let (&keys, rest) = rest.split_first()?;
        let keys = usize::try_from(keys).ok().filter(|&k| k <= MAX_KEYS && rest.len() >= 2 * k && rest.len() % 2 == 0)?;
        let (key_ints, func_ints) = rest.split_at(2 * keys);
        let keys = key_ints
            .chunks_exact(2)
            .map(|p| match p[0] {
                0 => Key::column(usize::try_from(p[1]).ok()?),
                1 => UNITS.get(usize::try_from(p[1]).ok()?).map(|&u| Key::Trunc(u)),
                2 => usize::try_from(p[1]).ok().filter(|&i| i < props.len()).map(Key::Prop),
                _ => None,
            })
            .collect::<Option<Vec<Key>>>()?;
        let funcs = func_ints.chunks_exact(2).map(|p| Func::decode(p[0], p[1])).collect::<Option<Vec<Func>>>()?;
        Some(Spec { keys, funcs, props })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(name: &str) -> usize {
        COLUMNS.iter().position(|c| *c == name).unwrap()
    }

    #[test]
    fn supported_functions() {
        assert_eq!(Func::new("count", None, false), Some(Func::CountRows));
        assert_eq!(Func::new("count", Some(at("pathname")), true), Some(Func::CountDistinct(at("pathname"))));
        assert_eq!(Func::new("sum", Some(at("revenue_micros")), false), Some(Func::Sum(at("revenue_micros"))));
        assert_eq!(Func::new("max", Some(at("ts")), true), Some(Func::Max(at("ts"))));
        assert_eq!(Func::new("sum", Some(at("ts")), false), None, "no sum of timestamps");
        assert_eq!(Func::new("sum", Some(at("pathname")), false), None);
        assert_eq!(Func::new("min", Some(at("pathname")), false), None, "text order depends on the collation");
        assert_eq!(Func::new("count", Some(at("props")), false), None);
        assert_eq!(Func::new("sum", Some(at("screen_width")), true), None);
        assert_eq!(Func::new("stddev", Some(at("screen_width")), false), None);
        assert_eq!(Key::column(at("props")), None);
        assert_eq!(Unit::parse("day"), Some(Unit::Day));
        assert_eq!(Unit::parse("minute"), None);
    }

    #[test]
    fn specs_round_trip_and_refuse_other_lists() {
        let mut spec = Spec {
            keys: vec![Key::Column(at("country")), Key::Trunc(Unit::Week)],
            funcs: vec![Func::CountRows, Func::Avg(at("engagement_ms")), Func::CountDistinct(at("visitor_id"))],
            props: Vec::new(),
        };
        assert_eq!(Spec::decode(&spec.encode()), Some(spec.clone()));
        assert_eq!(spec.columns(), vec![at("ts"), at("visitor_id"), at("country"), at("engagement_ms")]);
        let plan = spec.prop_key("plan");
        spec.keys.push(plan);
        assert_eq!(spec.prop_key("plan"), plan, "a name is listed once");
        let other = spec.prop_key("ünïcode");
        spec.keys.push(other);
        assert_eq!(Spec::decode(&spec.encode()), Some(spec.clone()));
        assert_eq!(spec.describe_key(plan), "props ->> \"plan\"");
        assert!(spec.columns().contains(&at("props")));
        assert_eq!(Spec::decode(&[]), None);
        assert_eq!(Spec::decode(&[0, 1, 0]), None);
        assert_eq!(Spec::decode(&[0, 0, 3, at("ts") as i32]), None, "no sum of timestamps");
        assert_eq!(Spec::decode(&[0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), None, "too many keys");
        assert_eq!(Spec::decode(&[0, 1, 1, 99]), None);
        assert_eq!(Spec::decode(&[0, 1, 2, 0]), None, "a property key without its name");
        assert_eq!(Spec::decode(&[1, 3, 97, 256, 98, 0]), None, "a name that is not bytes");
        let cases = Spec {
            keys: vec![],
            funcs: vec![Func::SumOrZero(at("revenue_micros")), Func::SumConst(1), Func::SumConstOrZero(-3)],
            props: Vec::new(),
        };
        assert_eq!(Spec::decode(&cases.encode()), Some(cases));
        assert_eq!(Spec::decode(&[0, 0, 7, at("pathname") as i32]), None, "no sum of strings");
    }
}
