"""Dashboard questions through tally.query, plain SQL over a heap, DuckDB and chDB.

Called by benches/query.sh with the database URL and the directory holding the CSV
export of the same events. Prints a markdown table: median of 5 runs after a warm-up,
per engine, and each engine's time relative to tally.query.
"""

import datetime as dt
import json
import math
import statistics
import sys

import chdb.session
import duckdb
import psycopg
from psycopg.types.json import Jsonb

from timing import median_ms

URL, WORK = sys.argv[1], sys.argv[2]
SITE = 1  # the largest site (Zipf sizes: about 30% of all events)
RUNS = 5

pg = psycopg.connect(URL, autocommit=True)
last_ts = pg.execute("SELECT max(ts) FROM heap WHERE site_id = %s", [SITE]).fetchone()[0]
today = last_ts.astimezone(dt.timezone.utc).date()
d30, d7, d1 = today - dt.timedelta(days=29), today - dt.timedelta(days=6), today - dt.timedelta(days=1)
end = today + dt.timedelta(days=1)
now = dt.datetime.now(dt.timezone.utc)
rt_from = now - dt.timedelta(minutes=5)
RT_NAIVE = rt_from.replace(tzinfo=None).isoformat(" ")

# Session-level helpers in each dialect: visits with their bounce, duration and entry page.
HEAP_VISITS = """(SELECT visitor_id, session_id, count(*) FILTER (WHERE name = 'pageview') AS pv,
       count(*) FILTER (WHERE name <> 'engagement') <= 1 AS bounced,
       extract(epoch FROM max(ts) - min(ts)) AS dur,
       (array_agg(pathname ORDER BY ts) FILTER (WHERE name = 'pageview'))[1] AS entry_page
  FROM heap WHERE site_id = 1 AND ts >= '{f}' AND ts < '{t}' GROUP BY 1, 2) v"""
DUCK_VISITS = """(SELECT visitor_id, session_id, count(*) FILTER (WHERE name = 'pageview') AS pv,
       count(*) FILTER (WHERE name <> 'engagement') <= 1 AS bounced,
       epoch(max(ts)) - epoch(min(ts)) AS dur,
       arg_min(pathname, ts) FILTER (WHERE name = 'pageview') AS entry_page
  FROM events WHERE site_id = 1 AND ts >= '{f}' AND ts < '{t}' GROUP BY 1, 2) v"""
CH_VISITS = """(SELECT visitor_id, session_id, countIf(name = 'pageview') AS pv,
       countIf(name != 'engagement') <= 1 AS bounced,
       dateDiff('second', min(ts), max(ts)) AS dur,
       argMinIf(pathname, ts, name = 'pageview') AS entry_page
  FROM events WHERE site_id = 1 AND ts >= '{f}' AND ts < '{t}' GROUP BY visitor_id, session_id) v"""


def rng(f, t):
    return {"f": f.isoformat(), "t": t.isoformat()}


def same_sql(sql):
    """One SQL text for all three SQL engines."""
    return {"heap": sql, "duckdb": sql, "chdb": sql}


def visits_sql(select, f, t, tail=""):
    return {
        "heap": f"SELECT {select} FROM {HEAP_VISITS.format(**rng(f, t))} {tail}",
        "duckdb": f"SELECT {select} FROM {DUCK_VISITS.format(**rng(f, t))} {tail}",
        "chdb": f"SELECT {select} FROM {CH_VISITS.format(**rng(f, t))} {tail}",
    }


def where(f, t, extra=""):
    return f"site_id = 1 AND ts >= '{f.isoformat()}' AND ts < '{t.isoformat()}' {extra}"


def breakdown(column, f, t, extra="", metric="count(DISTINCT visitor_id)"):
    return same_sql(f"SELECT {column}, {metric} AS n FROM events WHERE {where(f, t, extra)} GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 10")


GOALS = where(d30, end, "AND name IN ('Signup', 'Purchase')")


def site(query):
    return {"site_id": SITE, **query}


QUESTIONS = [
    ("aggregate, 30 days",
     site({"date_range": [str(d30), str(today)], "metrics": ["visitors", "visits", "pageviews", "bounce_rate", "visit_duration"]}),
     visits_sql("count(DISTINCT visitor_id), count(*), sum(pv), round(100.0 * avg(CASE WHEN bounced THEN 1 ELSE 0 END), 2), round(avg(dur))", d30, end)),
    ("daily series, 30 days",
     site({"date_range": [str(d30), str(today)], "metrics": ["visitors", "pageviews"], "dimensions": ["time:day"]}),
     {**same_sql(f"SELECT date_trunc('day', ts) AS d, count(DISTINCT visitor_id), count(*) FILTER (WHERE name = 'pageview') FROM events WHERE {where(d30, end)} GROUP BY 1 ORDER BY 1"),
      "chdb": f"SELECT toStartOfDay(ts) AS d, uniqExact(visitor_id), countIf(name = 'pageview') FROM events WHERE {where(d30, end)} GROUP BY d ORDER BY d"}),
    ("hourly series, 1 day",
     site({"date_range": [str(d1), str(d1)], "metrics": ["visitors", "pageviews"], "dimensions": ["time:hour"]}),
     {**same_sql(f"SELECT date_trunc('hour', ts) AS h, count(DISTINCT visitor_id), count(*) FILTER (WHERE name = 'pageview') FROM events WHERE {where(d1, today)} GROUP BY 1 ORDER BY 1"),
      "chdb": f"SELECT toStartOfHour(ts) AS h, uniqExact(visitor_id), countIf(name = 'pageview') FROM events WHERE {where(d1, today)} GROUP BY h ORDER BY h"}),
    ("top pages, 30 days",
     site({"date_range": [str(d30), str(today)], "metrics": ["visitors", "pageviews"], "dimensions": ["event:page"], "pagination": {"limit": 10}}),
     breakdown("pathname", d30, end, "AND name = 'pageview'")),
    ("top sources, 30 days",
     site({"date_range": [str(d30), str(today)], "metrics": ["visitors"], "dimensions": ["visit:source"], "pagination": {"limit": 10}}),
     breakdown("referrer_source", d30, end)),
    ("countries, 30 days",
     site({"date_range": [str(d30), str(today)], "metrics": ["visitors"], "dimensions": ["visit:country"], "pagination": {"limit": 10}}),
     breakdown("country", d30, end)),
    ("pages of US visitors, 30 days",
     site({"date_range": [str(d30), str(today)], "metrics": ["visitors"], "dimensions": ["event:page"],
           "filters": [["is", "visit:country", ["US"]]], "pagination": {"limit": 10}}),
     breakdown("pathname", d30, end, "AND country = 'US'")),
    ("goal conversions, 30 days",
     site({"date_range": [str(d30), str(today)], "metrics": ["visitors", "conversion_rate"], "dimensions": ["event:goal"]}),
     {**same_sql(f"SELECT name, count(DISTINCT visitor_id), round(100.0 * count(DISTINCT visitor_id) / (SELECT count(DISTINCT visitor_id) FROM events WHERE {where(d30, end)}), 2) FROM events WHERE {GOALS} GROUP BY 1"),
      "chdb": f"SELECT name, uniqExact(visitor_id), round(100.0 * uniqExact(visitor_id) / (SELECT uniqExact(visitor_id) FROM events WHERE {where(d30, end)}), 2) FROM events WHERE {GOALS} GROUP BY name"}),
    ("realtime visitors",
     site({"date_range": "realtime", "metrics": ["visitors", "pageviews"]}),
     same_sql(f"SELECT count(DISTINCT visitor_id), count(*) FILTER (WHERE name = 'pageview') FROM events WHERE site_id = 1 AND ts >= '{RT_NAIVE}'")
     | {"heap": f"SELECT count(DISTINCT visitor_id), count(*) FILTER (WHERE name = 'pageview') FROM events WHERE site_id = 1 AND ts >= '{rt_from.isoformat()}'"}),
    ("bounce rate and duration by entry page, 30 days",
     site({"date_range": [str(d30), str(today)], "metrics": ["visits", "bounce_rate", "visit_duration"], "dimensions": ["visit:entry_page"], "pagination": {"limit": 10}}),
     visits_sql("entry_page, count(*) AS n, round(100.0 * avg(CASE WHEN bounced THEN 1 ELSE 0 END), 2), round(avg(dur))", d30, end, "GROUP BY entry_page ORDER BY n DESC LIMIT 10")),
    ("devices, 7 days",
     site({"date_range": [str(d7), str(today)], "metrics": ["visitors"], "dimensions": ["visit:device"]}),
     breakdown("device", d7, end)),
    ("aggregate with previous period, 7 days",
     site({"date_range": [str(d7), str(today)], "metrics": ["visitors", "pageviews"], "include": {"comparisons": {"mode": "previous_period"}}}),
     {**same_sql(f"SELECT ts >= '{d7.isoformat()}' AS current, count(DISTINCT visitor_id), count(*) FILTER (WHERE name = 'pageview') FROM events WHERE {where(d7 - dt.timedelta(days=7), end)} GROUP BY 1"),
      "chdb": f"SELECT ts >= '{d7.isoformat()}' AS current, uniqExact(visitor_id), countIf(name = 'pageview') FROM events WHERE {where(d7 - dt.timedelta(days=7), end)} GROUP BY current"}),
    ("campaigns of Google visitors, 30 days",
     site({"date_range": [str(d30), str(today)], "metrics": ["visitors"], "dimensions": ["visit:utm_campaign"], "filters": [["is", "visit:source", ["Google"]]], "pagination": {"limit": 10}}),
     breakdown("utm_campaign", d30, end, "AND referrer_source = 'Google'")),
]


def chdb_sql(sql):
    """ClickHouse dialect: exact distinct counts, FILTER → If combinators."""
    return sql.replace("count(DISTINCT visitor_id)", "uniqExact(visitor_id)").replace(
        "count(*) FILTER (WHERE name = 'pageview')", "countIf(name = 'pageview')")


def main():
    duck = duckdb.connect()
    duck.execute(f"""CREATE TABLE events AS SELECT column00::INT AS site_id, make_timestamp(column01::BIGINT) AS ts, column02 AS name,
        column03::BIGINT AS visitor_id, column04::BIGINT AS session_id, column05 AS pathname, column06 AS referrer_source,
        column07 AS utm_campaign, column08 AS country, column09 AS device, column10 AS browser, column11::BIGINT AS revenue_micros
        FROM read_csv('{WORK}/events.csv', header = false, all_varchar = true) ORDER BY site_id, ts""")
    ch = chdb.session.Session(f"{WORK}/chdb")
    ch.query("DROP TABLE IF EXISTS events")
    ch.query("""CREATE TABLE events (site_id Int32, ts DateTime64(6, 'UTC'), name LowCardinality(String), visitor_id Int64,
        session_id Int64, pathname String, referrer_source Nullable(String), utm_campaign Nullable(String),
        country LowCardinality(Nullable(String)), device LowCardinality(Nullable(String)), browser LowCardinality(Nullable(String)),
        revenue_micros Nullable(Int64)) ENGINE = MergeTree ORDER BY (site_id, ts)""")
    ch.query(f"""INSERT INTO events SELECT c1, fromUnixTimestamp64Micro(c2, 'UTC'), c3, c4, c5, c6, c7, c8, c9, c10, c11, c12
        FROM file('{WORK}/events.csv', CSV, 'c1 Int32, c2 Int64, c3 String, c4 Int64, c5 Int64, c6 String, c7 Nullable(String),
        c8 Nullable(String), c9 Nullable(String), c10 Nullable(String), c11 Nullable(String), c12 Nullable(Int64)')""")
    ch.query("OPTIMIZE TABLE events FINAL")
    pg.execute("CREATE OR REPLACE TEMP VIEW events AS SELECT * FROM heap")

    rows = []
    for name, query, sql in QUESTIONS:
        answer = pg.execute("SELECT tally.query(%s)", [Jsonb(query)]).fetchone()[0]
        assert "results" in answer, f"{name}: {answer}"
        tally = median_ms(RUNS, lambda: pg.execute("SELECT tally.query(%s)", [Jsonb(query)]).fetchall())
        heap = median_ms(RUNS, lambda: pg.execute(sql["heap"]).fetchall())
        duck_ms = median_ms(RUNS, lambda: duck.execute(sql["duckdb"]).fetchall())
        ch_ms = median_ms(RUNS, lambda: ch.query(chdb_sql(sql["chdb"]), "CSV"))
        rows.append((name, tally, heap, duck_ms, ch_ms))

    events = pg.execute("SELECT count(*) FROM heap").fetchone()[0]
    site_events = pg.execute("SELECT count(*) FROM heap WHERE site_id = %s", [SITE]).fetchone()[0]
    print(f"{events:,} events, 20 sites, 30 days; site {SITE} (asked about) has {site_events:,}. Median of {RUNS} runs, ms.\n")
    print("| question | tally.query | heap SQL | DuckDB | chDB | heap / tally | DuckDB / tally | chDB / tally |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, t, h, d, c in rows:
        print(f"| {name} | {t:.1f} | {h:.1f} | {d:.1f} | {c:.1f} | {h / t:.1f}x | {d / t:.2f}x | {c / t:.2f}x |")
    geo = lambda i: math.exp(statistics.mean(math.log(r[i] / r[1]) for r in rows))
    print(f"| **geometric mean** | | | | | **{geo(2):.1f}x** | **{geo(3):.2f}x** | **{geo(4):.2f}x** |")
    print(f"\nslowest tally.query: {max(r[1] for r in rows):.1f} ms")
    print("versions:", "duckdb", duckdb.__version__, "· chdb", chdb.__version__, "·", json.dumps(pg.info.server_version))


main()
