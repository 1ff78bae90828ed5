//! One filter condition (`["contains", dimension, values, {"case_sensitive": false}]`,
//! `is`, `matches` and their `_not`s) as a test of single text values, for a caller that
//! holds values rather than events: the gateway finds which place names a Plausible
//! filter on `visit:country_name` selects, by the rules the engine applies to stored
//! values (the same parse, case folding and regular-expression limits).

use serde_json::Value;

use super::error::QueryError;
use super::model::{Filter, Target};
use super::parse::{filter, FilterBudget};
use super::plan::Test;

/// A checked condition, ready to test values.
#[derive(Debug, Clone)]
pub struct ValueTest {
    test: Test,
    negated: bool,
}

impl ValueTest {
    /// The condition `condition` (one filter leaf of an engine dimension), checked as
    /// a query's filter at `field` is, errors naming the field below it.
    pub fn parse(condition: &Value, field: &str) -> Result<ValueTest, QueryError> {
        let (leaf, negated) = match filter(condition, field, 1, &mut FilterBudget::default())? {
            Filter::Not(inner) => (*inner, true),
            other => (other, false),
        };
        match leaf {
            Filter::Leaf { target: Target::Attr(_), op, values, field } => Ok(ValueTest { test: Test::of(op, &values, &field)?, negated }),
            _ => Err(QueryError::new(field, "a single condition: [operator, dimension, [values]] with an optional modifier")),
        }
    }

    /// Whether `value` passes the condition.
    pub fn passes(&self, value: &str) -> bool {
        self.test.matches(Some(value)) != self.negated
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn passes(condition: Value, value: &str) -> bool {
        ValueTest::parse(&condition, "filters[0]").unwrap().passes(value)
    }

    #[test]
    fn conditions_test_values_as_the_engine_tests_stored_ones() {
        assert!(passes(json!(["contains", "visit:country", ["erm"]]), "Germany"));
        assert!(!passes(json!(["contains", "visit:country", ["ERM"]]), "Germany"));
        assert!(passes(json!(["contains", "visit:country", ["ERM"], {"case_sensitive": false}]), "Germany"));
        assert!(passes(json!(["matches", "visit:country", ["^Ge.*y$"]]), "Germany"));
        assert!(!passes(json!(["matches_not", "visit:country", ["^Ge"]]), "Germany"));
        assert!(passes(json!(["is_not", "visit:country", ["France"]]), "Germany"));
    }

    #[test]
    fn a_bad_condition_names_its_field() {
        let field = |c: Value| ValueTest::parse(&c, "filters[2]").unwrap_err().field;
        assert_eq!(field(json!(["matches", "visit:country", ["("]])), "filters[2][2][0]");
        assert_eq!(field(json!(["contains", "visit:country", ["a"], {"case_sensitive": 1}])), "filters[2][3].case_sensitive");
        assert_eq!(field(json!(["and", [["is", "visit:country", ["a"]]]])), "filters[2]");
    }
}
