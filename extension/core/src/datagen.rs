//! Deterministic synthetic web traffic for the demo seeder, benchmarks and tests.
//!
//! [`DataGen`] streams `Config::events` events in `ts` order over `Config::days` days
//! without holding them in memory: time advances a minute at a time, sessions start by
//! a Poisson process shaped by daily and weekly cycles, and each session's events
//! wait in a small heap until their minute comes. Sites, pages, referrer sources and
//! campaigns are Zipf-distributed; a visitor keeps its location, browser, OS, device
//! and screen across visits, and gets a new id each day as the cookieless hash does.
//! The same `Config` always yields the same events.

mod tables;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::f64::consts::TAU;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::event::Event;
use tables::*;

const MINUTE_US: i64 = 60_000_000;
const HOUR_US: i64 = 60 * MINUTE_US;
const DAY_US: i64 = 24 * HOUR_US;

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    pub seed: u64,
    /// Site ids are `1..=sites`.
    pub sites: u32,
    pub days: u32,
    /// Exactly this many events are produced.
    pub events: u64,
    /// Start of the first day, µs since the epoch (ideally a UTC midnight).
    pub start_ts: i64,
}

impl Default for Config {
    /// A month of 1M events over 20 sites from 2024-01-01 (a Monday).
    fn default() -> Self {
        Self { seed: 42, sites: 20, days: 30, events: 1_000_000, start_ts: 1_704_067_200_000_000 }
    }
}

/// The event stream; see the module docs.
pub struct DataGen {
    config: Config,
    rng: StdRng,
    sites: Vec<Site>,
    site_pick: Discrete,
    /// Expected session starts per unit of [`activity`].
    sessions_per_activity: f64,
    minute: i64,
    total_minutes: i64,
    pending: BinaryHeap<Reverse<Pending>>,
    ready: VecDeque<Event>,
    emitted: u64,
    seq: u64,
}

impl DataGen {
    pub fn new(config: Config) -> Self {
        let mut rng = StdRng::seed_from_u64(config.seed);
        let site_count = config.sites.max(1) as usize;
        // Site sizes follow Zipf with s = 1.1: one big customer, a long tail.
        let site_weights: Vec<f64> = (0..site_count).map(|i| zipf_weight(i, 1.1)).collect();
        let total_weight: f64 = site_weights.iter().sum();
        let total_minutes = i64::from(config.days.max(1)) * 24 * 60;
        let sessions = config.events as f64 / mean_events_per_session(config.seed);
        let sites = site_weights.iter().enumerate().map(|(i, w)| Site::new(i as i32 + 1, w / total_weight, sessions, &mut rng)).collect();
        let activity_sum: f64 = (0..total_minutes).map(|m| activity(config.start_ts + m * MINUTE_US)).sum();
        Self {
            config,
            rng,
            sites,
            site_pick: Discrete::new(&site_weights),
            sessions_per_activity: sessions / activity_sum,
            minute: 0,
            total_minutes,
            pending: BinaryHeap::new(),
            ready: VecDeque::new(),
            emitted: 0,
            seq: 0,
        }
    }

    /// Starts the sessions of the next minute and releases every event due before its
    /// end. Past the configured days the stream keeps going (at the last day's rates)
    /// until `events` have been produced, so the count is exact.
    fn advance_minute(&mut self) {
        let minute_start = self.config.start_ts + self.minute * MINUTE_US;
        let lambda = self.sessions_per_activity * activity(minute_start);
        let starts = poisson(&mut self.rng, lambda);
        for _ in 0..starts {
            let site = self.site_pick.sample(&mut self.rng);
            let start = minute_start + self.rng.random_range(0..MINUTE_US);
            let events = self.sites[site].session(&mut self.rng, self.config.seed, start);
            for event in events {
                self.seq += 1;
                self.pending.push(Reverse(Pending { ts: event.ts, seq: self.seq, event }));
            }
        }
        let end = minute_start + MINUTE_US;
        while self.pending.peek().is_some_and(|p| p.0.ts < end) {
            if let Some(Reverse(p)) = self.pending.pop() {
                self.ready.push_back(p.event);
            }
        }
        self.minute += 1;
    }
}

impl Iterator for DataGen {
    type Item = Event;

    fn next(&mut self) -> Option<Event> {
        if self.emitted >= self.config.events {
            return None;
        }
        while self.ready.is_empty() {
            self.advance_minute();
            if self.minute > self.total_minutes * 4 && self.pending.is_empty() && self.ready.is_empty() {
                // Only reachable with a zero rate (events > 0 but no activity); stop
                // rather than spin.
                return None;
            }
        }
        self.emitted += 1;
        self.ready.pop_front()
    }
}

/// An event waiting for its minute, ordered by (ts, creation order).
struct Pending {
    ts: i64,
    seq: u64,
    event: Event,
}

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        (self.ts, self.seq) == (other.ts, other.seq)
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Pending {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.ts, self.seq).cmp(&(other.ts, other.seq))
    }
}

/// Relative traffic at `ts`: a daily wave peaking at 15:00 UTC (Europe's afternoon,
/// America's morning) at 3.4x its 03:00 trough, and weekends at 70% of weekdays.
fn activity(ts: i64) -> f64 {
    let hour = ts.rem_euclid(DAY_US) as f64 / HOUR_US as f64;
    let daily = 1.0 + 0.55 * ((hour - 15.0) / 24.0 * TAU).cos();
    // The epoch was a Thursday: day 0 → Thursday, so days 2 and 3 are the weekend.
    let weekday = ts.div_euclid(DAY_US).rem_euclid(7);
    let weekly = if matches!(weekday, 2 | 3) { 0.7 } else { 1.0 };
    daily * weekly
}

/// Mean events per session, measured on a sample so the session rate can be set to
/// produce the requested event count over the requested days. 4000 sessions put the
/// estimate within about 2%.
fn mean_events_per_session(seed: u64) -> f64 {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed);
    let mut site = Site::new(1, 1.0, 4000.0, &mut rng);
    let sample = 4000;
    let events: usize = (0..sample).map(|_| site.session(&mut rng, seed, 0).len()).sum();
    events as f64 / f64::from(sample)
}

/// One site's fixed shape: its pages, audience size and campaigns.
struct Site {
    id: i32,
    hostname: String,
    pages: Vec<String>,
    page_pick: Zipf,
    /// Distinct people who visit over the whole period; picked uniformly per session
    /// so some return.
    people: u64,
    /// Whether the site tags pageviews with a `logged_in` property.
    tags_login: bool,
    /// Post ids of the few social threads currently linking here.
    threads: Vec<u64>,
}

impl Site {
    fn new(id: i32, share: f64, total_sessions: f64, rng: &mut StdRng) -> Self {
        let sessions = share * total_sessions;
        // Bigger sites have more content: 15 pages for the smallest, ~2000 for a
        // site with a million sessions.
        let page_count = (15.0 + sessions.sqrt() * 2.0).min(4000.0) as usize;
        let mut pages: Vec<String> = CORE_PAGES.iter().map(|p| (*p).to_owned()).collect();
        while pages.len() < page_count {
            let (a, b) = (WORDS[rng.random_range(0..WORDS.len())], WORDS[rng.random_range(0..WORDS.len())]);
            let page = match rng.random_range(0..3) {
                0 => format!("/docs/{a}/{b}"),
                _ => format!("/blog/{a}-{b}-{}", pages.len()),
            };
            pages.push(page);
        }
        Self {
            id,
            hostname: format!("www.site{id}.example.com"),
            page_pick: Zipf::new(pages.len(), 1.0),
            pages,
            // Three sessions per person on average over the period.
            people: (sessions / 3.0).max(1.0) as u64,
            tags_login: id % 4 == 0,
            threads: (0..5).map(|_| rng.random_range(10_000_000..99_999_999)).collect(),
        }
    }

    /// All events of one session starting at `start`.
    fn session(&mut self, rng: &mut StdRng, seed: u64, start: i64) -> Vec<Event> {
        let person = rng.random_range(0..self.people);
        let day = start.div_euclid(DAY_US);
        let base = Event {
            site_id: self.id,
            ts: start,
            name: "pageview".to_owned(),
            // Daily-salted hash of the person, like the gateway's cookieless id.
            visitor_id: mix(&[seed, self.id as u64, person, day as u64]) as i64,
            session_id: rng.random(),
            hostname: self.hostname.clone(),
            ..Event::default()
        };
        let mut base = Person::new(seed, self.id, person).apply(base);
        self.traffic_source(rng, &mut base);

        // Pageviews per session: 1 + geometric, mean ~2.7, a third are bounces.
        let mut pageviews = 1;
        while pageviews < 30 && rng.random_bool(0.62) {
            pageviews += 1;
        }
        let mut events = Vec::new();
        let mut ts = start;
        let mut page = self.page_pick.sample(rng);
        let logged_in = rng.random_bool(0.3);
        for i in 0..pageviews {
            if i > 0 {
                // Seconds to minutes between pages, log-normal around 40 s.
                ts += (lognormal(rng, 40.0, 1.0) * 1e6).min(25.0 * 60e6) as i64;
                page = self.page_pick.sample(rng);
            }
            let mut pageview = Event { ts, pathname: self.pages[page].clone(), ..base.clone() };
            if self.tags_login {
                pageview.props = vec![("logged_in".into(), logged_in.to_string())];
            }
            let engagement = (lognormal(rng, 25_000.0, 1.2)).min(20.0 * 60e3) as i32;
            let engaged = rng.random_bool(0.55);
            events.push(pageview.clone());
            if engaged {
                events.push(Event {
                    ts: ts + i64::from(engagement) * 1000,
                    name: "engagement".into(),
                    engagement_ms: Some(engagement),
                    // Longer reads scroll further; derived rather than drawn, so the
                    // random stream (and every other field) stays as it was.
                    scroll_depth: Some((engagement / 1_000).min(100)),
                    props: Vec::new(),
                    ..pageview.clone()
                });
            }
            if let Some(custom) = custom_event(rng, &pageview) {
                events.push(custom);
            }
        }
        events
    }

    /// Fills referrer, source and UTM tags for a new session.
    fn traffic_source(&self, rng: &mut StdRng, event: &mut Event) {
        let (source, url) = REFERRERS[Zipf::small(rng, REFERRERS.len(), 1.3)];
        // The gateway stores NULL for direct visits (no referrer, no UTM source); a UTM
        // source below still overrides. No random draw depends on this, so the rest of
        // the stream is unchanged.
        event.referrer_source = (source != "Direct").then(|| source.to_owned());
        event.referrer = url.map(|u| {
            let thread = self.threads[Zipf::small(rng, self.threads.len(), 1.0)];
            match source {
                // t.co links are unique per share: high-cardinality referrers exist.
                "Twitter" => u.replace("{}", &format!("{:x}", rng.random::<u32>())),
                _ => u.replace("{}", &thread.to_string()),
            }
        });
        if rng.random_bool(0.08) {
            let pick = |rng: &mut StdRng, list: &[&str], s: f64| list[Zipf::small(rng, list.len(), s)].to_owned();
            event.utm_source = Some(pick(rng, UTM_SOURCES, 1.0));
            event.utm_medium = Some(pick(rng, UTM_MEDIUMS, 1.0));
            event.utm_campaign = Some(pick(rng, UTM_CAMPAIGNS, 1.2));
            event.utm_term = rng.random_bool(0.2).then(|| pick(rng, UTM_TERMS, 1.0));
            event.utm_content = rng.random_bool(0.3).then(|| pick(rng, UTM_CONTENTS, 1.0));
            if let Some(source) = &event.utm_source {
                event.referrer_source = Some(source.clone());
            }
        }
    }
}

/// A custom event after a pageview, or none: signups, purchases with revenue, outbound
/// clicks and 404s, a few percent each.
fn custom_event(rng: &mut StdRng, pageview: &Event) -> Option<Event> {
    let roll = rng.random::<f64>();
    let pick = |rng: &mut StdRng, list: &[&str]| list[Zipf::small(rng, list.len(), 1.0)].to_owned();
    let (name, props) = match roll {
        r if r < 0.02 => ("Signup", vec![("plan".into(), pick(rng, PLANS)), ("method".into(), pick(rng, SIGNUP_METHODS))]),
        r if r < 0.03 => ("Purchase", vec![("plan".into(), pick(rng, PLANS))]),
        r if r < 0.06 => {
            ("Outbound Link: Click", vec![("url".into(), format!("https://github.com/tally/repo{}", Zipf::small(rng, 40, 1.0)))])
        }
        r if r < 0.07 => ("404", vec![("path".into(), format!("{}/old", pageview.pathname))]),
        _ => return None,
    };
    let mut event = Event { ts: pageview.ts + rng.random_range(1_000_000..30_000_000), name: name.into(), props, ..pageview.clone() };
    if name == "Purchase" {
        // Prices like 49.99: whole cents, log-normal around 40 units.
        let cents = lognormal(rng, 4000.0, 0.8).max(99.0) as i64;
        event.revenue_micros = Some(cents * 10_000);
        event.revenue_currency = Some(pick(rng, CURRENCIES));
    }
    Some(event)
}

/// A person's stable attributes, derived from their identity so they stay the same
/// across sessions and days.
struct Person {
    country: &'static str,
    region: Option<&'static str>,
    city: Option<&'static str>,
    browser: &'static str,
    browser_version: &'static str,
    os: &'static str,
    os_version: &'static str,
    device: &'static str,
    screen_width: Option<i32>,
}

impl Person {
    fn new(seed: u64, site: i32, person: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(mix(&[seed, site as u64, person, 0xbeef]));
        let (country, region, city) = if rng.random_bool(0.08) {
            (LONG_TAIL_COUNTRIES[rng.random_range(0..LONG_TAIL_COUNTRIES.len())], None, None)
        } else {
            let weights: Vec<f64> = COUNTRIES.iter().map(|c| c.1).collect();
            let (code, _, regions) = COUNTRIES[Discrete::new(&weights).sample(&mut rng)];
            let (region, cities) = regions[Zipf::small(&mut rng, regions.len(), 1.0)];
            (code, Some(region), Some(cities[Zipf::small(&mut rng, cities.len(), 1.0)]))
        };
        let os_weights: Vec<f64> = OSES.iter().map(|o| o.1).collect();
        let (os, _, os_versions, devices) = OSES[Discrete::new(&os_weights).sample(&mut rng)];
        let device = devices[rng.random_range(0..devices.len())];
        let (browser, _, versions) = match os {
            "iOS" if rng.random_bool(0.8) => BROWSERS[1],
            _ => {
                let weights: Vec<f64> = BROWSERS.iter().map(|b| b.1).collect();
                BROWSERS[Discrete::new(&weights).sample(&mut rng)]
            }
        };
        let widths = SCREEN_WIDTHS.iter().find(|(d, _)| *d == device).map_or(&[][..], |(_, w)| w);
        Self {
            country,
            region,
            city,
            browser,
            browser_version: versions[Zipf::small(&mut rng, versions.len(), 1.5)],
            os,
            os_version: os_versions[Zipf::small(&mut rng, os_versions.len(), 1.5)],
            device,
            // A few trackers report no viewport (blocked script features).
            screen_width: (!widths.is_empty() && rng.random_bool(0.97)).then(|| widths[Zipf::small(&mut rng, widths.len(), 1.0)]),
        }
    }

    fn apply(&self, event: Event) -> Event {
        let owned = |s: &str| Some(s.to_owned());
        Event {
            country: owned(self.country),
            region: self.region.map(str::to_owned),
            city: self.city.map(str::to_owned),
            browser: owned(self.browser),
            browser_version: owned(self.browser_version),
            os: owned(self.os),
            os_version: owned(self.os_version),
            device: owned(self.device),
            screen_width: self.screen_width,
            ..event
        }
    }
}

/// SplitMix64 finalizer over several words: a stable hash for derived ids and seeds.
fn mix(words: &[u64]) -> u64 {
    words.iter().fold(0x9e37_79b9_7f4a_7c15u64, |acc, &w| {
        let mut z = acc ^ w.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    })
}

fn zipf_weight(rank: usize, s: f64) -> f64 {
    1.0 / ((rank + 1) as f64).powf(s)
}

/// Sampling from fixed weights by binary search over the cumulative sum.
struct Discrete {
    cumulative: Vec<f64>,
}

impl Discrete {
    fn new(weights: &[f64]) -> Self {
        let mut sum = 0.0;
        let cumulative = weights
            .iter()
            .map(|w| {
                sum += w.max(0.0);
                sum
            })
            .collect();
        Self { cumulative }
    }

    fn sample(&self, rng: &mut StdRng) -> usize {
        let total = self.cumulative.last().copied().unwrap_or(0.0);
        let x = rng.random::<f64>() * total;
        self.cumulative.partition_point(|&c| c <= x).min(self.cumulative.len().saturating_sub(1))
    }
}

/// Zipf over ranks `0..n` with exponent `s`.
struct Zipf(Discrete);

impl Zipf {
    fn new(n: usize, s: f64) -> Self {
        Zipf(Discrete::new(&(0..n).map(|i| zipf_weight(i, s)).collect::<Vec<_>>()))
    }

    fn sample(&self, rng: &mut StdRng) -> usize {
        self.0.sample(rng)
    }

    /// One draw from a short list, without keeping a table around.
    fn small(rng: &mut StdRng, n: usize, s: f64) -> usize {
        Zipf::new(n, s).sample(rng)
    }
}

/// Poisson count: Knuth's product method for small means, a rounded normal beyond
/// 30 where it is accurate to well under a percent.
fn poisson(rng: &mut StdRng, lambda: f64) -> u64 {
    if lambda <= 0.0 {
        return 0;
    }
    if lambda > 30.0 {
        return (lambda + lambda.sqrt() * standard_normal(rng)).round().max(0.0) as u64;
    }
    let limit = (-lambda).exp();
    let mut product = rng.random::<f64>();
    let mut count = 0;
    while product > limit {
        product *= rng.random::<f64>();
        count += 1;
    }
    count
}

/// Log-normal with the given median and log-space spread.
fn lognormal(rng: &mut StdRng, median: f64, sigma: f64) -> f64 {
    median * (sigma * standard_normal(rng)).exp()
}

/// Box-Muller.
fn standard_normal(rng: &mut StdRng) -> f64 {
    let u1 = rng.random::<f64>().max(f64::MIN_POSITIVE);
    let u2 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (TAU * u2).cos()
}

/// The `hicard` shape: a pathname per event and a source per visit, drawn log-uniform
/// (weight ~1/k, as Zipf(1)) from 50,000 and 2,000 values.
pub fn redraw_hicard(event: &mut Event, rng: &mut StdRng) {
    let log_uniform = |u: f64, n: f64| (u * n.ln()).exp().floor() as i64;
    event.pathname = format!("/p/{}", log_uniform(rng.random::<f64>(), 50_000.0));
    if event.referrer_source.is_some() {
        // A fixed fraction of the session id: every event of a visit has the same source.
        let u = (event.session_id.unsigned_abs() % 1_000_000) as f64 / 1e6;
        event.referrer_source = Some(format!("source{}", log_uniform(u, 2_000.0)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> Config {
        Config { seed: 7, sites: 5, days: 3, events: 20_000, ..Config::default() }
    }

    #[test]
    fn deterministic_sorted_and_exact_count() {
        let events: Vec<Event> = DataGen::new(small()).collect();
        assert_eq!(events.len(), 20_000);
        assert!(events.windows(2).all(|w| w[0].ts <= w[1].ts));
        assert_eq!(events, DataGen::new(small()).collect::<Vec<_>>());
        let other: Vec<Event> = DataGen::new(Config { seed: 8, ..small() }).take(100).collect();
        assert_ne!(events[..100], other[..]);
    }

    #[test]
    fn spans_the_days_with_zipf_sites_and_visits() {
        let config = small();
        let events: Vec<Event> = DataGen::new(config).collect();
        let end = config.start_ts + i64::from(config.days) * DAY_US;
        let last = events.last().map_or(0, |e| e.ts);
        // Calibration is statistical: the last event lands near the end of the range.
        assert!(last > end - 12 * HOUR_US && last < end + 12 * HOUR_US, "{last} vs {end}");
        let per_site = |id| events.iter().filter(|e| e.site_id == id).count();
        assert!(per_site(1) > per_site(5) * 3);
        let sessions: std::collections::HashSet<i64> = events.iter().map(|e| e.session_id).collect();
        let per_session = events.len() as f64 / sessions.len() as f64;
        assert!((2.0..8.0).contains(&per_session), "{per_session}");
        assert!(events.iter().any(|e| e.revenue_micros.is_some()));
        assert!(events.iter().any(|e| !e.props.is_empty()));
        assert!(events.iter().any(|e| e.utm_campaign.is_some()));
    }
}
