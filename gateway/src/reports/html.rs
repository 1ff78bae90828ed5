//! A report as one self-contained HTML document (maud escapes every value): styles
//! inline in the head, the chart as inline SVG, nothing loaded from anywhere (its
//! Content-Security-Policy says so), laid out for an A4 page. The PDF prints it; an
//! email is the same document without the chart (mail clients drop SVG; the PDF
//! attached has it) and with the email's own footer.

use maud::{html, Markup, PreEscaped, DOCTYPE};
use serde_json::Value;

use super::format;
use super::view::{Report, Series};

const STYLE: &str = "
@page { size: A4; margin: 12mm; }
* { box-sizing: border-box; }
body { font: 11pt/1.4 'DejaVu Sans', Arial, sans-serif; color: #111827; margin: 0; }
h1 { font-size: 18pt; margin: 0 0 2px; }
h2 { font-size: 12pt; margin: 16px 0 6px; }
.sub { color: #4b5563; margin: 0 0 12px; }
.cards { display: grid; grid-template-columns: repeat(3, 1fr); gap: 8px; }
.card { border: 1px solid #d1d5db; border-radius: 6px; padding: 8px 10px; break-inside: avoid; }
.label { color: #4b5563; font-size: 9pt; }
.value { font-size: 17pt; font-weight: bold; }
.change { font-size: 9pt; color: #4b5563; }
.up { color: #047857; } .down { color: #b91c1c; }
.chart { width: 100%; border: 1px solid #d1d5db; border-radius: 6px; padding: 6px; break-inside: avoid; }
.tables { display: grid; grid-template-columns: 1fr 1fr; gap: 8px 16px; }
.top { break-inside: avoid; }
table { width: 100%; border-collapse: collapse; font-size: 9.5pt; }
th, td { text-align: left; padding: 3px 4px; border-bottom: 1px solid #e5e7eb; }
th { color: #4b5563; font-weight: normal; }
td.num, th.num { text-align: right; white-space: nowrap; }
td.name { word-break: break-all; }
.none { color: #6b7280; font-style: italic; }
.footer { color: #6b7280; font-size: 8.5pt; margin-top: 16px; }
";

/// What the document is for.
pub enum Medium<'a> {
    /// The PDF: with the chart.
    Print,
    /// An email: no chart, and `footer` (the unsubscribe link) at the end.
    Email { footer: Markup, intro: &'a str },
}

/// The report's title line: `shop.example · 2026-11-07 to 2026-12-06`.
pub fn title(report: &Report) -> String {
    format!("{} · {} to {}", report.view.site_id, report.from, report.to)
}

/// The comparison and filters in words, for the line under the title.
fn subtitle(report: &Report) -> String {
    let compared = match report.view.comparison.as_deref() {
        Some("previous_period") => "compared with the previous period",
        Some("year_over_year") => "compared with the year before",
        _ => "no comparison",
    };
    let filters: Vec<String> = report.view.filters.iter().map(filter_text).collect();
    if filters.is_empty() {
        format!("All visitors, {compared}.")
    } else {
        format!("Filtered by {}, {compared}.", filters.join(" and "))
    }
}

/// `["is", "visit:country", ["DE"]]` → `visit:country is DE`.
fn filter_text(filter: &Value) -> String {
    let part = |i: usize| filter.get(i).map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned)).unwrap_or_default();
    let values = filter
        .get(2)
        .and_then(Value::as_array)
        .map(|v| v.iter().map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_owned)).collect::<Vec<_>>());
    match values {
        Some(values) => format!("{} {} {}", part(1), part(0).replace('_', " "), values.join(" or ")),
        None => filter.to_string(),
    }
}

/// The whole document.
pub fn document(report: &Report, medium: &Medium<'_>) -> String {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'";
                title { (title(report)) }
                style { (PreEscaped(STYLE)) }
            }
            body {
                h1 { (title(report)) }
                p.sub { (subtitle(report)) }
                @if let Medium::Email { intro, .. } = medium { p { (intro) } }
                div.cards {
                    @for k in &report.kpis {
                        div.card data-metric=(k.metric) {
                            div.label { (k.label) }
                            div.value { (format::metric(k.metric, k.value)) }
                            @if report.view.comparison.is_some() {
                                div class=(trend(k.metric, k.change)) {
                                    (format::change(k.metric, k.change))
                                    " (was " (format::metric(k.metric, k.previous)) ")"
                                }
                            }
                        }
                    }
                }
                @if let Medium::Print = medium {
                    h2 { "Unique visitors" }
                    div.chart { (chart(&report.series)) }
                }
                div.tables {
                    @for t in &report.tables {
                        div.top {
                            h2 { (t.title) }
                            @if t.rows.is_empty() {
                                p.none { "Nothing in this range." }
                            } @else {
                                table {
                                    thead { tr {
                                        th { (t.column) }
                                        @for m in t.metrics { th.num { (heading(m)) } }
                                    } }
                                    tbody {
                                        @for (name, values) in &t.rows {
                                            tr {
                                                @match name {
                                                    Some(n) => td.name { (n) },
                                                    None => td.name.none { "(none)" },
                                                }
                                                @for (m, v) in t.metrics.iter().zip(values) { td.num { (format::metric(m, *v)) } }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                @if let Medium::Email { footer, .. } = medium { div.footer { (footer) } }
            }
        }
    };
    markup.into_string()
}

fn heading(metric: &str) -> &str {
    match metric {
        "visitors" => "Visitors",
        "pageviews" => "Views",
        "bounce_rate" => "Bounce",
        other => other,
    }
}

/// `change up`, `change down` or `change`: green for good news (a falling bounce rate).
fn trend(metric: &str, change: Option<f64>) -> &'static str {
    match change {
        Some(c) if c != 0.0 && (c > 0.0) != (metric == "bounce_rate") => "change up",
        Some(c) if c != 0.0 => "change down",
        _ => "change",
    }
}

/// The series as an SVG line chart: the current period solid over a light fill, the
/// previous one dashed, a scale on the left and the first, middle and last label below.
fn chart(series: &Series) -> Markup {
    const W: f64 = 720.0;
    const H: f64 = 200.0;
    const LEFT: f64 = 48.0;
    const BOTTOM: f64 = 22.0;
    let n = series.labels.len();
    let top = series.current.iter().chain(series.previous.iter().flatten()).copied().fold(0.0_f64, f64::max).max(1.0);
    let x = |i: usize| LEFT + if n > 1 { i as f64 * (W - LEFT - 8.0) / (n - 1) as f64 } else { (W - LEFT) / 2.0 };
    let y = |v: f64| 8.0 + (H - BOTTOM - 8.0) * (1.0 - v / top);
    let line = |values: &[f64]| values.iter().enumerate().map(|(i, v)| format!("{:.1},{:.1}", x(i), y(*v))).collect::<Vec<_>>().join(" ");
    let area = format!("{:.1},{:.1} {} {:.1},{:.1}", x(0), y(0.0), line(&series.current), x(n.saturating_sub(1)), y(0.0));
    let ticks = [0.0, top / 2.0, top];
    let marks: Vec<usize> = if n > 2 { vec![0, n / 2, n - 1] } else { (0..n).collect() };
    html! {
        svg xmlns="http://www.w3.org/2000/svg" viewBox={"0 0 " (W) " " (H)} width="100%" role="img" aria-label="Unique visitors per day" {
            @for t in ticks {
                line x1=(LEFT) x2=(W - 8.0) y1=(y(t)) y2=(y(t)) stroke="#e5e7eb" stroke-width="1" {}
                text x=(LEFT - 6.0) y=(y(t) + 4.0) text-anchor="end" font-size="11" fill="#4b5563" { (format::number(t.round())) }
            }
            @if let Some(previous) = &series.previous {
                polyline points=(line(previous)) fill="none" stroke="#9ca3af" stroke-width="1.5" stroke-dasharray="4 4" {}
            }
            @if n > 0 {
                polygon points=(area) fill="#e0e7ff" stroke="none" {}
                polyline points=(line(&series.current)) fill="none" stroke="#4f46e5" stroke-width="2" {}
            }
            @for i in marks {
                // The first and last labels align with the plot's edges, inside the box.
                @let anchor = if i == 0 { "start" } else if i + 1 == n { "end" } else { "middle" };
                text x=(x(i)) y=(H - 4.0) text-anchor=(anchor) font-size="11" fill="#4b5563" { (series.labels[i]) }
            }
        }
    }
}
