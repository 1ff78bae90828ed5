//! Numbers as the dashboard shows them (dashboards/src/format.js): `1,234`, two
//! decimals at most, rates in percent, durations as `3m 05s`, changes as `+12%` or
//! `+2.5 pp` for rates.

/// `1234567` → `1,234,567`; fractional values keep up to two decimals.
pub fn number(n: f64) -> String {
    let rounded = (n * 100.0).round() / 100.0;
    let negative = rounded < 0.0;
    let whole = rounded.abs().trunc() as u64;
    let cents = ((rounded.abs() - rounded.abs().trunc()) * 100.0).round() as u64;
    let digits = whole.to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let fraction = match cents {
        0 => String::new(),
        c if c.is_multiple_of(10) => format!(".{}", c / 10),
        c => format!(".{c:02}"),
    };
    format!("{}{grouped}{fraction}", if negative { "-" } else { "" })
}

/// Seconds → `1h 02m`, `3m 05s`, `42s`.
pub fn duration(seconds: f64) -> String {
    let s = seconds.round() as i64;
    if s >= 3600 {
        format!("{}h {:02}m", s / 3600, (s % 3600) / 60)
    } else if s >= 60 {
        format!("{}m {:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

fn is_rate(metric: &str) -> bool {
    matches!(metric, "bounce_rate" | "conversion_rate" | "percentage")
}

/// A metric's value as shown; `—` when there is none.
pub fn metric(name: &str, value: Option<f64>) -> String {
    match value {
        None => "—".into(),
        Some(v) if is_rate(name) => format!("{}%", number(v)),
        Some(v) if name == "visit_duration" => duration(v),
        Some(v) => number(v),
    }
}

/// A change against the comparison period: `+12%`, `−7%`, `+2.5 pp`; empty without one.
pub fn change(name: &str, value: Option<f64>) -> String {
    let Some(v) = value else { return String::new() };
    let sign = if v > 0.0 {
        "+"
    } else if v < 0.0 {
        "−"
    } else {
        "±"
    };
    format!("{sign}{}{}", number(v.abs()), if is_rate(name) { " pp" } else { "%" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_as_on_the_dashboard() {
        assert_eq!(number(1_234_567.0), "1,234,567");
        assert_eq!(number(999.0), "999");
        assert_eq!(number(2.5), "2.5");
        assert_eq!(number(32.614), "32.61");
        assert_eq!(number(0.0), "0");
        assert_eq!(metric("bounce_rate", Some(32.61)), "32.61%");
        assert_eq!(metric("visit_duration", Some(143.0)), "2m 23s");
        assert_eq!(metric("visit_duration", Some(3720.0)), "1h 02m");
        assert_eq!(metric("visitors", None), "—");
        assert_eq!(change("visitors", Some(12.0)), "+12%");
        assert_eq!(change("visitors", Some(-7.0)), "−7%");
        assert_eq!(change("bounce_rate", Some(2.5)), "+2.5 pp");
        assert_eq!(change("visitors", None), "");
    }
}
