//! Engine tests: exact answers on a handmade visit, and the same answers however the
//! events are cut into segments (visits across day boundaries, small overlapping
//! segments) — the gathering of open visits must make the cut invisible.

use serde_json::{json, Value};

use crate::event::Event;
use crate::segment;

use super::*;

const MIN: i64 = 60_000_000;

fn goals() -> Vec<Goal> {
    vec![
        Goal { name: "Signup".into(), event_name: Some("Signup".into()), page_pattern: None },
        Goal { name: "Docs".into(), event_name: None, page_pattern: Some("/docs*".into()) },
    ]
}

/// Runs `query` over `chunks`, each encoded as one segment, on one thread.
fn answer(query: Value, chunks: &[Vec<Event>], range: TimeRange) -> Answer {
    answer_on_threads(query, chunks, range, 1)
}

/// Hourly buckets from the range start, when the query has a time dimension.
fn hourly_buckets(plan: &Plan, range: TimeRange) -> Option<Vec<i64>> {
    let timed = plan.query.dimensions.iter().any(|d| matches!(d, Dimension::Time(_)));
    timed.then(|| (0..).map(|h| range.from_us + h * 60 * MIN).take_while(|&t| t < range.to_us).collect())
}

/// The answer of [`scan_all`] on `threads` threads, each view's groups sorted by key.
fn answer_on_threads(query: Value, chunks: &[Vec<Event>], range: TimeRange, threads: usize) -> Answer {
    let plan = Plan::new(parse(&query).unwrap(), goals()).unwrap();
    let segments: Vec<_> = chunks.iter().map(|c| segment::build(c).unwrap()).collect();
    let zones = segments.iter().map(|s| (s.zone.ts_min, s.zone.ts_max)).collect();
    let bytes: Vec<&[u8]> = segments.iter().map(|s| s.bytes.as_slice()).collect();
    let mut answer = scan_all(&plan, range, hourly_buckets(&plan, range), zones, &bytes, threads, || {}).unwrap();
    for view in &mut answer.views {
        view.sort_by(|a, b| a.key.cmp(&b.key));
    }
    answer
}

fn event(visitor: i64, session: i64, minute: i64, name: &str, page: &str) -> Event {
    Event {
        site_id: 1,
        ts: minute * MIN,
        name: name.into(),
        visitor_id: visitor,
        session_id: session,
        hostname: "a.com".into(),
        pathname: page.into(),
        country: Some(if visitor == 1 { "DE" } else { "FR" }.into()),
        ..Event::default()
    }
}

#[test]
fn visit_metrics_of_a_handmade_day() {
    let events = vec![
        // Visitor 1: a visit /a → /docs/x with a signup, and a bounce on /b.
        event(1, 10, 0, "pageview", "/a"),
        event(1, 10, 1, "engagement", "/a"),
        event(1, 10, 3, "pageview", "/docs/x"),
        event(1, 10, 4, "Signup", "/docs/x"),
        event(1, 11, 100, "pageview", "/b"),
        // Visitor 2: one bounce on /a.
        event(2, 20, 5, "pageview", "/a"),
    ];
    let range = TimeRange { from_us: 0, to_us: 1_000 * MIN };
    let query = json!({"site_id": 1, "date_range": "day", "metrics": ["visitors"],
        "dimensions": ["visit:entry_page", "visit:exit_page"]});
    let a = answer(query, std::slice::from_ref(&events), range);
    let keys: Vec<_> = a.views[0].iter().map(|g| (g.key.clone(), g.acc.visits)).collect();
    let text = |s: &str| KeyValue::Text(Some(s.into()));
    assert_eq!(keys, vec![(vec![text("/a"), text("/a")], 1), (vec![text("/a"), text("/docs/x")], 1), (vec![text("/b"), text("/b")], 1)]);
    // Hosts of the first and last pageviews: visitor 1's first visit moves to docs.a.com.
    let mut hosted = events.clone();
    hosted[2].hostname = "docs.a.com".into();
    let query = json!({"site_id": 1, "date_range": "day", "metrics": ["visits"],
        "dimensions": ["visit:entry_page_hostname", "visit:exit_page_hostname"]});
    let a = answer(query, std::slice::from_ref(&hosted), range);
    let keys: Vec<_> = a.views[0].iter().map(|g| (g.key.clone(), g.acc.visits)).collect();
    assert_eq!(keys, vec![(vec![text("a.com"), text("a.com")], 2), (vec![text("a.com"), text("docs.a.com")], 1)]);

    let query = json!({"site_id": 1, "date_range": "day", "metrics": ["visitors", "visits", "pageviews", "events", "bounce_rate", "visit_duration"], "include": {"totals": true}});
    let a = answer(query, std::slice::from_ref(&events), range);
    let total = &a.views[0][0];
    assert_eq!((total.visitors, total.acc.visits, total.acc.pageviews, total.acc.events), (2, 3, 4, 5));
    assert_eq!((total.acc.bounces, total.acc.duration_us), (2, 4 * MIN as u64));

    // A goal filter keeps visitor 1's converting visit and counts the visit whole.
    let query = json!({"site_id": 1, "date_range": "day", "metrics": ["visitors", "conversion_rate"], "dimensions": ["visit:country"],
        "filters": [["is", "event:goal", ["Signup", "Docs"]]]});
    let a = answer(query, std::slice::from_ref(&events), range);
    assert_eq!(a.views[0].len(), 1);
    assert_eq!((a.views[0][0].visitors, a.views[0][0].acc.visits, a.views[0][0].acc.events), (1, 1, 2));
    let base: Vec<_> = a.views[1].iter().map(|g| g.visitors).collect();
    assert_eq!(base, [1, 1], "DE and FR without the goal filter");
}

#[test]
fn exit_rate_is_exits_over_the_pages_pageviews() {
    let events = vec![
        // Visit 1: / then /b; visit 2: /b then / then /b; visit 3: / alone.
        event(1, 10, 0, "pageview", "/"),
        event(1, 10, 1, "pageview", "/b"),
        event(2, 20, 0, "pageview", "/b"),
        event(2, 20, 1, "pageview", "/"),
        event(2, 20, 2, "pageview", "/b"),
        event(2, 20, 3, "Click", "/b"),
        event(3, 30, 0, "pageview", "/"),
    ];
    let range = TimeRange { from_us: 0, to_us: 1_000 * MIN };
    let q = json!({"site_id": 1, "date_range": "day", "metrics": ["visits", "exit_rate"], "dimensions": ["visit:exit_page"],
        "order_by": [["visit:exit_page", "asc"]]});
    let plan = Plan::new(parse(&q).unwrap(), goals()).unwrap();
    let a = answer(q, std::slice::from_ref(&events), range);
    let period = Period { answer: a, from_label: String::new(), to_label: String::new(), bucket_labels: Vec::new(), from_rollups: false };
    // /: 1 exit of 3 pageviews; /b: 2 exits of 3 pageviews.
    assert_eq!(
        render(&plan, &period, None)["results"],
        json!([{"dimensions": ["/"], "metrics": [1, 33.3]}, {"dimensions": ["/b"], "metrics": [2, 66.7]}])
    );
    let error = parse(&json!({"site_id": 1, "date_range": "day", "metrics": ["exit_rate"], "dimensions": ["event:page"]})).unwrap_err();
    assert_eq!(error.field, "metrics[0]");
}

#[test]
fn top_pages_are_made_of_pageviews() {
    let events = vec![
        // Visitor 1 views /a and signs up on /b without viewing it in range.
        event(1, 10, 0, "pageview", "/a"),
        event(1, 10, 1, "Signup", "/b"),
        // Visitor 2 views /b and clicks on /b.
        event(2, 20, 0, "pageview", "/b"),
        event(2, 20, 1, "Click", "/b"),
    ];
    let range = TimeRange { from_us: 0, to_us: 1_000 * MIN };
    let pages = |q: Value| -> Vec<_> {
        answer(q, std::slice::from_ref(&events), range).views[0]
            .iter()
            .map(|g| (g.key.clone(), g.visitors, g.acc.visits, g.acc.pageviews, g.acc.events))
            .collect()
    };
    let text = |s: &str| vec![KeyValue::Text(Some(s.into()))];
    let q =
        json!({"site_id": 1, "date_range": "day", "metrics": ["visitors", "visits", "pageviews", "events"], "dimensions": ["event:page"]});
    assert_eq!(pages(q.clone()), vec![(text("/a"), 1, 1, 1, 1), (text("/b"), 1, 1, 1, 1)]);
    // Asking for an event name: the pages those events happened on.
    let mut named = q;
    named["filters"] = json!([["is", "event:name", ["Signup"]]]);
    assert_eq!(pages(named), vec![(text("/b"), 1, 1, 0, 1)]);
}

#[test]
fn non_interactive_events_count_as_events_but_never_end_a_bounce() {
    let passive = |visitor, session, minute| Event { interactive: Some(false), ..event(visitor, session, minute, "Autoplay", "/a") };
    let events = vec![
        // A pageview and a non-interactive event: a bounce.
        event(1, 10, 0, "pageview", "/a"),
        passive(1, 10, 1),
        // A pageview and an interactive event (NULL: stored before the flag): no bounce.
        event(2, 20, 0, "pageview", "/a"),
        event(2, 20, 1, "Click", "/a"),
        // Two pageviews, the second one non-interactive: a bounce.
        event(3, 30, 0, "pageview", "/a"),
        Event { interactive: Some(false), ..event(3, 30, 2, "pageview", "/b") },
    ];
    let range = TimeRange { from_us: 0, to_us: 1_000 * MIN };
    let q = json!({"site_id": 1, "date_range": "day", "metrics": ["visits", "bounce_rate", "events"]});
    let a = answer(q, std::slice::from_ref(&events), range);
    let acc = a.views[0][0].acc;
    assert_eq!((acc.visits, acc.bounces, acc.events), (3, 2, 6));
}

#[test]
fn scroll_depth_averages_each_visitors_deepest_scroll_on_the_page() {
    let scrolled = |visitor, session, minute, page: &str, sd| Event {
        engagement_ms: Some(1_000),
        scroll_depth: Some(sd),
        ..event(visitor, session, minute, "engagement", page)
    };
    // Visitor 1 reads /a in two visits, on two threads' segments: 40 then 90 %.
    let first = vec![event(1, 10, 0, "pageview", "/a"), scrolled(1, 10, 1, "/a", 40), event(2, 20, 0, "pageview", "/a")];
    let second = vec![
        event(1, 11, 100, "pageview", "/a"),
        scrolled(1, 11, 101, "/a", 90),
        scrolled(1, 11, 102, "/a", 70),
        // Visitor 2 scrolled 20 % of /a, visitor 3 60 % of /b.
        scrolled(2, 21, 100, "/a", 20),
        event(3, 30, 100, "pageview", "/b"),
        scrolled(3, 30, 101, "/b", 60),
        // A page nobody reported a scroll for.
        event(3, 30, 102, "pageview", "/c"),
    ];
    let range = TimeRange { from_us: 0, to_us: 1_000 * MIN };
    let q = json!({"site_id": 1, "date_range": "day", "metrics": ["scroll_depth", "visitors"], "dimensions": ["event:page"]});
    for threads in [1, 2] {
        let a = answer_on_threads(q.clone(), &[first.clone(), second.clone()], range, threads);
        let pages: Vec<_> = a.views[0].iter().map(|g| (g.acc.scroll_total, g.acc.scroll_visitors)).collect();
        assert_eq!(pages, vec![(90 + 20, 2), (60, 1), (0, 0)], "on {threads} threads");
        let plan = Plan::new(parse(&q).unwrap(), goals()).unwrap();
        let period =
            Period { answer: a, from_label: String::new(), to_label: String::new(), bucket_labels: Vec::new(), from_rollups: false };
        let rows: Vec<_> = render(&plan, &period, None)["results"].as_array().unwrap().iter().map(|r| r["metrics"][0].clone()).collect();
        assert_eq!(rows.iter().filter(|m| **m == json!(55)).count(), 1, "(90 + 20) / 2 for /a: {rows:?}");
        assert!(rows.contains(&json!(60)) && rows.contains(&Value::Null));
    }
    // A page filter is enough; without one the metric is refused, naming it.
    let filtered = json!({"site_id": 1, "date_range": "day", "metrics": ["scroll_depth"], "filters": [["is", "event:page", ["/a"]]]});
    assert_eq!(answer(filtered, &[first.clone(), second.clone()], range).views[0][0].acc.scroll_total, 110);
    let error = parse(&json!({"site_id": 1, "date_range": "day", "metrics": ["visitors", "scroll_depth"]})).unwrap_err();
    assert_eq!(error.field, "metrics[1]");
}

#[test]
fn time_on_page_sums_engagement_per_engaged_visit_of_the_page() {
    let engaged =
        |visitor, session, minute, page: &str, ms| Event { engagement_ms: Some(ms), ..event(visitor, session, minute, "engagement", page) };
    let events = vec![
        // Visitor 1: 30 s then 10 s more on /a (one visit), 8 s on /b.
        event(1, 10, 0, "pageview", "/a"),
        engaged(1, 10, 1, "/a", 30_000),
        engaged(1, 10, 2, "/a", 10_000),
        event(1, 10, 3, "pageview", "/b"),
        engaged(1, 10, 4, "/b", 8_000),
        // Visitor 2: 20 s on /a; visitor 3 viewed /a without an engagement report.
        event(2, 20, 5, "pageview", "/a"),
        engaged(2, 20, 6, "/a", 20_000),
        event(3, 30, 5, "pageview", "/a"),
    ];
    let range = TimeRange { from_us: 0, to_us: 1_000 * MIN };
    let query = json!({"site_id": 1, "date_range": "day", "metrics": ["time_on_page", "events"], "dimensions": ["event:page"]});
    let a = answer(query, std::slice::from_ref(&events), range);
    let pages: Vec<_> = a.views[0].iter().map(|g| (g.key.clone(), g.acc.engagement_ms, g.acc.engaged_visits, g.acc.events)).collect();
    let text = |s: &str| KeyValue::Text(Some(s.into()));
    assert_eq!(pages, vec![(vec![text("/a")], 60_000, 2, 3), (vec![text("/b")], 8_000, 1, 1)]);
    // Rendered: (40 s + 20 s) over the two visits that engaged with /a.
    let plan = Plan::new(
        parse(&json!({"site_id": 1, "date_range": "day", "metrics": ["time_on_page"], "dimensions": ["event:page"]})).unwrap(),
        goals(),
    )
    .unwrap();
    let period = Period { answer: a, from_label: String::new(), to_label: String::new(), bucket_labels: Vec::new(), from_rollups: false };
    assert_eq!(render(&plan, &period, None)["results"][0]["metrics"], json!([30]));
}

#[test]
fn behavioural_and_case_insensitive_filters() {
    let events = vec![
        // Visitor 1 saw /Pricing, then signed up elsewhere; visitor 2 signed up only.
        event(1, 10, 0, "pageview", "/Pricing"),
        event(1, 10, 1, "pageview", "/a"),
        event(1, 10, 2, "Signup", "/a"),
        event(2, 20, 0, "pageview", "/b"),
        event(2, 20, 1, "Signup", "/b"),
        event(3, 30, 0, "pageview", "/pricing/plans"),
    ];
    let range = TimeRange { from_us: 0, to_us: 1_000 * MIN };
    let visitors = |filters: Value| {
        let query = json!({"site_id": 1, "date_range": "day", "metrics": ["visitors", "events"], "filters": filters});
        let a = answer(query, std::slice::from_ref(&events), range);
        a.views[0].first().map_or((0, 0), |g| (g.visitors, g.acc.events))
    };
    // Signups by visitors who saw /pricing in the same visit: one event, not the page's.
    assert_eq!(visitors(json!([["is", "event:name", ["Signup"]], ["has_done", ["is", "event:page", ["/Pricing"]]]])), (1, 1));
    assert_eq!(visitors(json!([["is", "event:name", ["Signup"]], ["has_not_done", ["is", "event:page", ["/Pricing"]]]])), (1, 1));
    assert_eq!(visitors(json!([["is", "event:page", ["/pricing"]]])), (0, 0));
    assert_eq!(visitors(json!([["is", "event:page", ["/pricing"], {"case_sensitive": false}]])), (1, 1));
    assert_eq!(visitors(json!([["contains", "event:page", ["PRICING"], {"case_sensitive": false}]])), (2, 2));
    assert_eq!(visitors(json!([["contains_not", "event:page", ["pricing"]]])), (2, 5));
    assert_eq!(visitors(json!([["matches_not", "event:page", ["^/[ab]$"]]])), (2, 2));
    // A goal inside a behavioural filter (Plausible's segment example): visitor 3 never
    // signed up; visitors 1 and 2 did, by event.
    assert_eq!(visitors(json!([["has_not_done", ["is", "event:goal", ["Signup"]]]])), (1, 1));
    assert_eq!(visitors(json!([["is", "event:page", ["/a"]], ["has_done", ["is", "event:goal", ["Signup"]]]])), (1, 2));
}

#[test]
fn revenue_in_different_currencies_is_never_added_up() {
    let paid = |visitor, minute, micros, currency: &str| Event {
        revenue_micros: Some(micros),
        revenue_currency: Some(currency.into()),
        ..event(visitor, visitor, minute, "Purchase", "/checkout")
    };
    let events =
        vec![paid(1, 0, 10_000_000, "EUR"), paid(2, 1, 5_000_000, "EUR"), paid(3, 2, 7_000_000, "USD"), event(4, 4, 3, "pageview", "/")];
    let range = TimeRange { from_us: 0, to_us: 1_000 * MIN };
    let render_of = |query: Value| {
        let plan = Plan::new(parse(&query).unwrap(), goals()).unwrap();
        let period = Period {
            answer: answer(query, std::slice::from_ref(&events), range),
            from_label: String::new(),
            to_label: String::new(),
            bucket_labels: Vec::new(),
            from_rollups: false,
        };
        render(&plan, &period, None)["results"].clone()
    };
    let metrics = json!(["total_revenue", "average_revenue"]);
    assert_eq!(render_of(json!({"site_id": 1, "date_range": "day", "metrics": metrics}))[0]["metrics"], json!([null, null]));
    assert_eq!(
        render_of(json!({"site_id": 1, "date_range": "day", "metrics": metrics, "dimensions": ["event:revenue_currency"]})),
        json!([{"dimensions": ["EUR"], "metrics": [15.0, 7.5]}, {"dimensions": ["USD"], "metrics": [7.0, 7.0]}, {"dimensions": [null], "metrics": [0.0, 0]}])
    );
    let eur = json!({"site_id": 1, "date_range": "day", "metrics": metrics, "filters": [["is", "event:revenue_currency", ["EUR"]]]});
    assert_eq!(render_of(eur)[0]["metrics"], json!([15.0, 7.5]));
}

#[test]
fn funnels_count_steps_in_order_within_one_visit() {
    let events = vec![
        // Visitor 1: /docs then Signup in one visit: both steps.
        event(1, 10, 0, "pageview", "/docs/a"),
        event(1, 10, 2, "Signup", "/docs/a"),
        // Visitor 2: Signup before /docs: only step 1 (order matters).
        event(2, 20, 0, "Signup", "/a"),
        event(2, 20, 1, "pageview", "/docs/b"),
        // Visitor 3: /docs in one visit, Signup in the next: only step 1 (one visit).
        event(3, 30, 0, "pageview", "/docs/c"),
        event(3, 31, 200, "Signup", "/a"),
        // Visitor 4: neither.
        event(4, 40, 0, "pageview", "/b"),
    ];
    let range = TimeRange { from_us: 0, to_us: 1_000 * MIN };
    let funnel = |filters: Value| {
        let query = json!({"site_id": 1, "date_range": "day", "metrics": ["visitors"], "funnel": ["Docs", "Signup"], "filters": filters});
        answer(query, std::slice::from_ref(&events), range)
    };
    let a = funnel(json!([]));
    assert_eq!((a.views[0][0].visitors, a.funnel.clone()), (4, vec![3, 1]));
    // Filters restrict the events that count: only French visitors (2, 3, 4).
    let a = funnel(json!([["is", "visit:country", ["FR"]]]));
    assert_eq!((a.views[0][0].visitors, a.funnel.clone()), (3, vec![2, 0]));
    // The same answer however the visits are cut into segments.
    let cut: Vec<Vec<Event>> = events.chunks(2).map(<[Event]>::to_vec).collect();
    let query = json!({"site_id": 1, "date_range": "day", "metrics": ["visitors"], "funnel": ["Docs", "Signup"]});
    assert_eq!(answer(query, &cut, range).funnel, vec![3, 1]);
    // A step that is not a goal is named.
    let bad = json!({"site_id": 1, "date_range": "day", "metrics": ["visitors"], "funnel": ["Docs", "Nope"]});
    assert_eq!(Plan::new(parse(&bad).unwrap(), goals()).unwrap_err().field, "funnel[1]");
}

/// Three days of site 1's generated traffic, whole and cut into segments the way
/// compaction leaves them, and a range that cuts visits at both ends.
#[cfg(feature = "datagen")]
fn three_days() -> (Vec<Event>, Vec<Vec<Event>>, TimeRange) {
    use crate::datagen::{Config, DataGen};
    const DAY: i64 = 1_440 * MIN;
    let start = 1_704_067_200_000_000;
    let events: Vec<Event> =
        DataGen::new(Config { seed: 3, sites: 2, days: 3, events: 30_000, start_ts: start }).filter(|e| e.site_id == 1).collect();
    // Cut 1: one segment. Cut 2: one per UTC day, the last day in slices of 300 events
    // (like today's segments before merging), with hot rows overlapping the last two.
    let mut by_day: Vec<Vec<Event>> = vec![Vec::new(); 4];
    for e in &events {
        by_day[((e.ts - start) / DAY).min(3) as usize].push(e.clone());
    }
    let mut cut: Vec<Vec<Event>> = by_day[..2].to_vec();
    cut.extend(by_day[2].chunks(300).map(<[Event]>::to_vec));
    cut.extend(by_day[3].chunks(300).map(<[Event]>::to_vec));
    let n = cut.len();
    let last: Vec<Event> = cut[n - 2].iter().chain(&cut[n - 1]).cloned().collect();
    cut.truncate(n - 2);
    cut.push(last.iter().step_by(2).cloned().collect());
    cut.push(last.iter().skip(1).step_by(2).cloned().collect());
    // A range that cuts visits at both ends, in the middle of days.
    let range = TimeRange { from_us: start + DAY / 3, to_us: start + 3 * DAY - DAY / 5 };
    (events, cut, range)
}

#[cfg(feature = "datagen")]
#[test]
fn answers_do_not_depend_on_how_events_are_cut_into_segments() {
    let (events, cut, range) = three_days();
    let queries = [
        json!({"metrics": ["visitors", "visits", "pageviews", "events", "bounce_rate", "visit_duration", "views_per_visit"], "include": {"totals": true}}),
        json!({"metrics": ["visitors", "visits", "bounce_rate", "percentage"], "dimensions": ["visit:entry_page"]}),
        json!({"metrics": ["visitors", "visits", "pageviews"], "dimensions": ["event:page", "time:hour"], "filters": [["is_not", "visit:device", ["mobile"]]]}),
        json!({"metrics": ["visitors", "conversion_rate", "total_revenue"], "dimensions": ["event:goal", "visit:source"]}),
        json!({"metrics": ["visits", "visit_duration"], "dimensions": ["visit:exit_page", "event:props:logged_in"],
            "filters": [["or", [["contains", "event:page", ["a"]], ["matches", "visit:country", ["^(US|DE)$"]]]]]}),
        json!({"metrics": ["visitors"], "funnel": ["Docs", "Signup"]}),
        // A test of the visit beside one of the event, with goals, revenue and totals.
        json!({"metrics": ["visitors", "events", "conversion_rate", "total_revenue"], "dimensions": ["event:goal"],
            "filters": [["is", "visit:country", ["US"]], ["is_not", "event:name", ["pageview"]]], "include": {"totals": true}}),
    ];
    for mut query in queries {
        query["site_id"] = json!(1);
        query["date_range"] = json!("30d");
        let whole = answer(query.clone(), std::slice::from_ref(&events), range);
        assert!(!whole.views[0].is_empty(), "{query}");
        assert!(whole.funnel.iter().all(|&n| n > 0), "{query}: every funnel step reached by someone");
        assert_eq!(answer(query.clone(), &cut, range), whole, "{query}");
        for threads in [2, 3] {
            assert_eq!(answer_on_threads(query.clone(), &cut, range, threads), whole, "{query} on {threads} threads");
        }
    }
}

/// One scan for several plans (`SharedPlan`) answers each as its own scan would,
/// whatever the filters, keys, goals, totals and time buckets of the plans beside it.
#[cfg(feature = "datagen")]
#[test]
fn a_shared_scan_answers_each_plan_as_its_own_scan() {
    let (_, cut, range) = three_days();
    let queries = [
        json!({"metrics": ["visitors", "visits", "pageviews", "bounce_rate", "visit_duration"]}),
        json!({"metrics": ["visitors", "pageviews"], "dimensions": ["event:page"], "filters": [["is", "visit:country", ["US"]]]}),
        json!({"metrics": ["visitors", "bounce_rate", "percentage"], "dimensions": ["visit:source"], "filters": [["is", "visit:country", ["US"]]]}),
        json!({"metrics": ["visitors", "events", "conversion_rate"], "dimensions": ["event:goal"], "filters": [["is", "visit:country", ["US"]]]}),
        json!({"metrics": ["visitors", "total_revenue"], "dimensions": ["time:hour"], "include": {"totals": true}}),
        json!({"metrics": ["visits", "visit_duration"], "dimensions": ["visit:exit_page", "event:props:logged_in"],
            "filters": [["or", [["contains", "event:page", ["a"]], ["matches", "visit:country", ["^(US|DE)$"]]]]]}),
        json!({"metrics": ["visitors", "conversion_rate"], "dimensions": ["visit:device"], "filters": [["is", "event:goal", ["Docs"]]]}),
    ];
    let plans: Vec<Plan> = queries
        .iter()
        .map(|q| {
            let mut q = q.clone();
            q["site_id"] = json!(1);
            q["date_range"] = json!("30d");
            Plan::new(parse(&q).unwrap(), goals()).unwrap()
        })
        .collect();
    let shared = SharedPlan::new(&plans.iter().collect::<Vec<_>>());
    let segments: Vec<_> = cut.iter().map(|c| segment::build(c).unwrap()).collect();
    let zones: Vec<(i64, i64)> = segments.iter().map(|s| (s.zone.ts_min, s.zone.ts_max)).collect();
    let bytes: Vec<&[u8]> = segments.iter().map(|s| s.bytes.as_slice()).collect();
    let buckets = hourly_buckets(&plans[4], range);
    let answer = scan_all(&shared.plan, range, buckets.clone(), zones.clone(), &bytes, 2, || {}).unwrap();
    let answers = shared.split(answer);
    assert_eq!(answers.len(), plans.len());
    // Compared as rendered: a shared scan may count figures its neighbours need
    // (revenue, visit figures) that a plan's own scan skips and its metrics never show.
    let labels: Vec<String> = buckets.iter().flatten().map(|t| t.to_string()).collect();
    let rendered = |plan: &Plan, answer: Answer| {
        let period =
            Period { answer, from_label: "from".into(), to_label: "to".into(), bucket_labels: labels.clone(), from_rollups: false };
        render(plan, &period, None)
    };
    for ((plan, together), query) in plans.iter().zip(answers).zip(&queries) {
        let alone = scan_all(plan, range, buckets.clone(), zones.clone(), &bytes, 1, || {}).unwrap();
        assert!(!alone.views[0].is_empty(), "{query}");
        assert_eq!(rendered(plan, together), rendered(plan, alone), "{query}");
    }
}

#[test]
fn undecodable_batches_are_named_and_failed_loads_do_not_hang_the_threads() {
    let plan = Plan::new(parse(&json!({"site_id": 1, "date_range": "30d", "metrics": ["visitors"]})).unwrap(), goals()).unwrap();
    let days: Vec<segment::Segment> = (0..6).map(|d| segment::build(&[event(d, d, d * 1_440, "pageview", "/")]).unwrap()).collect();
    let zones: Vec<(i64, i64)> = days.iter().map(|s| (s.zone.ts_min, s.zone.ts_max)).collect();
    let range = TimeRange { from_us: 0, to_us: 7 * 1_440 * MIN };
    let garbage: &[u8] = b"not a segment";
    for threads in [1, 2, 3] {
        // Batches 4 and 2 are broken: the lowest index is reported, whichever thread saw it.
        let load = |i: usize| if i == 2 || i == 4 { garbage.into() } else { days[i].bytes.as_slice().into() };
        let failed = scan_loaded(&plan, range, None, zones.clone(), load, Workers::uninterrupted(threads, || {})).map(|_| ()).unwrap_err();
        assert!(matches!(failed, ScanError::Corrupt(2, _)), "{threads} threads: {failed:?}");
        // A load that raises an error (Postgres's ERROR unwinds as a panic) reaches the caller.
        let panicked = std::panic::catch_unwind(|| {
            scan_loaded(
                &plan,
                range,
                None,
                zones.clone(),
                |i| if i == 3 { panic!("load failed") } else { days[i].bytes.as_slice().into() },
                Workers::uninterrupted(threads, || {}),
            )
            .map(|_| ())
        });
        assert!(panicked.is_err(), "{threads} threads");
    }
}

#[test]
fn a_scan_stops_at_the_first_check_that_says_cancelled() {
    let plan = Plan::new(parse(&json!({"site_id": 1, "date_range": "30d", "metrics": ["visitors"]})).unwrap(), goals()).unwrap();
    let days: Vec<segment::Segment> = (0..20).map(|d| segment::build(&[event(d, d, d * 1_440, "pageview", "/")]).unwrap()).collect();
    let zones: Vec<(i64, i64)> = days.iter().map(|s| (s.zone.ts_min, s.zone.ts_max)).collect();
    let range = TimeRange { from_us: 0, to_us: 21 * 1_440 * MIN };
    for threads in [1, 2, 3] {
        for allowed in [0, 5, 19] {
            // Cancelled after `allowed` checks; the loads after that never happen.
            let checks = std::cell::Cell::new(0);
            let loads = std::cell::Cell::new(0);
            let check = || {
                checks.set(checks.get() + 1);
                if checks.get() > allowed {
                    Err(crate::interrupt::Cancelled)
                } else {
                    Ok(())
                }
            };
            let load = |i: usize| {
                loads.set(loads.get() + 1);
                days[i].bytes.as_slice().into()
            };
            let result = scan_loaded(&plan, range, None, zones.clone(), load, Workers { threads, on_thread: || {}, interrupted: &check });
            assert_eq!(result.map(|_| ()), Err(ScanError::Cancelled(crate::interrupt::Cancelled)), "{threads} threads, {allowed}");
            assert_eq!(checks.get(), allowed + 1, "no check after the one that cancelled");
            assert!(loads.get() <= allowed, "{threads} threads, {allowed}: {} loads", loads.get());
        }
    }
}

#[test]
fn one_large_batch_is_checked_between_its_steps_and_stops_inside() {
    let query = json!({
        "site_id": 1, "date_range": "30d", "metrics": ["visitors", "pageviews", "bounce_rate"],
        "dimensions": ["event:page", "visit:country"], "filters": [["contains", "event:page", ["/a"]]]
    });
    let plan = Plan::new(parse(&query).unwrap(), goals()).unwrap();
    let pages = ["/a", "/ab", "/b", "/docs/x"];
    let events: Vec<Event> = (0..40_000).map(|i| event(i / 8, i / 4, i / 40, "pageview", pages[i as usize % 4])).collect();
    let big = segment::build(&events).unwrap();
    let range = TimeRange { from_us: 0, to_us: 30 * 1_440 * MIN };
    // The checks of a scan of `batches` (none, or the one big batch), and its result
    // when the check says stop after `allowed` calls.
    let scan = |batches: usize, allowed: usize| {
        let checks = std::cell::Cell::new(0);
        let check = || {
            checks.set(checks.get() + 1);
            if checks.get() > allowed {
                Err(crate::interrupt::Cancelled)
            } else {
                Ok(())
            }
        };
        let zones = vec![(big.zone.ts_min, big.zone.ts_max); batches];
        let result = scan_loaded(
            &plan,
            range,
            None,
            zones,
            |_| big.bytes.as_slice().into(),
            Workers { threads: 1, on_thread: || {}, interrupted: &check },
        );
        (checks.get(), result.map(|answer| answer.views.len()))
    };
    let (without, answer) = scan(0, usize::MAX);
    assert_eq!(answer, Ok(plan.views.len()));
    let (with, answer) = scan(1, usize::MAX);
    assert_eq!(answer, Ok(plan.views.len()));
    // Around the batch: its load and its taking. Inside it: at least each column
    // decoded (sources, ts) and each view accumulated.
    let inside = with - without - 2;
    assert!(inside > plan.sources.len() + plan.views.len(), "{inside} checks inside the batch");
    // Stopping at any of them abandons the scan there, and nothing is checked after.
    for allowed in 0..with {
        let (checks, result) = scan(1, allowed);
        assert_eq!(result, Err(ScanError::Cancelled(crate::interrupt::Cancelled)), "after {allowed} checks");
        assert_eq!(checks, allowed + 1, "no check after the one that cancelled");
    }
}
