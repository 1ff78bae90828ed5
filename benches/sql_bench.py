"""Analyst SQL over tally.events, the heap copy, DuckDB and chDB, timed the same way.

Called by benches/sql.sh with the database URL, the directory holding the CSV export
of the heap copy (events.csv, sites.csv) and the queries (NAME|SQL lines on stdin,
written for Postgres over {rel}). DuckDB and chDB load the export into tables of their
own (sorted by site and time, as the heap's index and the segments are) and run the
same queries, translated to their dialect here. Prints a markdown table: median of
RUNS runs after a warm-up, ms, each engine against tally.events, and geometric means.
"""

import datetime as dt
import math
import re
import statistics
import sys

import chdb
import chdb.session
import duckdb
import psycopg

from timing import median_ms

URL, WORK = sys.argv[1], sys.argv[2]
RUNS = 3

# The columns exported (sql.sh's \copy), with their DuckDB and ClickHouse types.
COLUMNS = [
    ("site_id", "INTEGER", "Int32"),
    ("ts", "BIGINT", "Int64"),  # µs since the epoch, UTC
    ("name", "VARCHAR", "LowCardinality(String)"),
    ("visitor_id", "BIGINT", "Int64"),
    ("session_id", "BIGINT", "Int64"),
    ("pathname", "VARCHAR", "String"),
    ("referrer_source", "VARCHAR", "Nullable(String)"),
    ("country", "VARCHAR", "LowCardinality(Nullable(String))"),
    ("browser", "VARCHAR", "LowCardinality(Nullable(String))"),
    ("device", "VARCHAR", "LowCardinality(Nullable(String))"),
    ("engagement_ms", "BIGINT", "Nullable(Int64)"),
    ("revenue_micros", "BIGINT", "Nullable(Int64)"),
    ("props", "VARCHAR", "String"),
]


def translate(sql, engine, now):
    """Postgres SQL over {rel} in `engine`'s dialect; `now()` is the instant `now`."""
    sql = sql.replace("{rel}", "events").replace("tally.sites", "sites")
    sql = re.sub(r"interval '(\d+) (day|hour)s?'", r"INTERVAL \1 \2", sql)
    stamp = now.strftime("%Y-%m-%d %H:%M:%S.%f")
    if engine == "duckdb":
        sql = sql.replace("now()", f"TIMESTAMP '{stamp}'")
        return re.sub(r"props ->> '(\w+)'", r"json_extract_string(props, '\1')", sql)
    sql = sql.replace("now()", f"toDateTime64('{stamp}', 6, 'UTC')")
    return re.sub(r"props ->> '(\w+)'", r"JSONExtract(props, '\1', 'Nullable(String)')", sql)


def load_duckdb():
    duck = duckdb.connect()
    columns = ", ".join(f"'{n}': '{t}'" for n, t, _ in COLUMNS)
    select = ", ".join("make_timestamp(ts) AS ts" if n == "ts" else ("props::JSON AS props" if n == "props" else n) for n, _, _ in COLUMNS)
    duck.execute(f"""CREATE TABLE events AS SELECT {select}
        FROM read_csv('{WORK}/events.csv', header = false, columns = {{{columns}}}) ORDER BY site_id, ts""")
    duck.execute(f"CREATE TABLE sites AS SELECT * FROM read_csv('{WORK}/sites.csv', header = false, columns = {{'site_id': 'INTEGER', 'domain': 'VARCHAR'}})")
    return duck


def load_chdb():
    ch = chdb.session.Session(f"{WORK}/chdb")
    ch.query("DROP TABLE IF EXISTS events")
    ch.query("DROP TABLE IF EXISTS sites")
    typed = ", ".join(f"{n} {'DateTime64(6, ' + chr(39) + 'UTC' + chr(39) + ')' if n == 'ts' else t}" for n, _, t in COLUMNS)
    ch.query(f"CREATE TABLE events ({typed}) ENGINE = MergeTree ORDER BY (site_id, ts)")
    structure = ", ".join(f"{n} {t}" for n, _, t in COLUMNS)
    select = ", ".join("fromUnixTimestamp64Micro(ts, 'UTC')" if n == "ts" else n for n, _, _ in COLUMNS)
    ch.query(f"INSERT INTO events SELECT {select} FROM file('{WORK}/events.csv', CSV, '{structure}')")
    ch.query("OPTIMIZE TABLE events FINAL")
    ch.query("CREATE TABLE sites (site_id Int32, domain String) ENGINE = MergeTree ORDER BY site_id")
    ch.query(f"INSERT INTO sites SELECT * FROM file('{WORK}/sites.csv', CSV, 'site_id Int32, domain String')")
    return ch


def table(rows):
    """Markdown: each engine's median, and the ratios the targets are stated in (heap over
    tally.events, tally.events over DuckDB and chDB), with geometric means."""
    geo = lambda values: math.exp(statistics.mean(math.log(v) for v in values))
    lines = [
        f"Median of {RUNS} runs after a warm-up, ms.\n",
        "| query | tally.events | without TallyAgg | heap + index | DuckDB | chDB | heap / tally | tally / DuckDB | tally / chDB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, t, n, h, d, c in rows:
        lines.append(f"| {name} | {t:.1f} | {n:.1f} | {h:.1f} | {d:.1f} | {c:.1f} | {h / t:.2f} | {t / d:.1f} | {t / c:.1f} |")
    t, n, h, d, c = (geo([r[i] for r in rows]) for i in range(1, 6))
    lines.append(
        f"| **geometric mean** | **{t:.1f}** | **{n:.1f}** | **{h:.1f}** | **{d:.1f}** | **{c:.1f}** | **{h / t:.2f}** | **{t / d:.1f}** | **{t / c:.1f}** |"
    )
    return "\n".join(lines)


def main():
    queries = [line.split("|", 1) for line in sys.stdin.read().splitlines() if line]
    pg = psycopg.connect(URL, autocommit=True)
    duck, ch = load_duckdb(), load_chdb()
    now = dt.datetime.now(dt.timezone.utc)
    rows = []
    for name, sql in queries:
        tally = median_ms(RUNS, lambda: pg.execute(sql.replace("{rel}", "tally.events")).fetchall())
        pg.execute("SET tally.scan_aggregates = off")
        without = median_ms(RUNS, lambda: pg.execute(sql.replace("{rel}", "tally.events")).fetchall())
        pg.execute("RESET tally.scan_aggregates")
        heap = median_ms(RUNS, lambda: pg.execute(sql.replace("{rel}", "heap")).fetchall())
        duck_sql, ch_sql = translate(sql, "duckdb", now), translate(sql, "chdb", now)
        duck_ms = median_ms(RUNS, lambda: duck.execute(duck_sql).fetchall())
        ch_ms = median_ms(RUNS, lambda: ch.query(ch_sql, "CSV"))
        rows.append((name, tally, without, heap, duck_ms, ch_ms))
        print(f"{name}: {tally:.1f} {without:.1f} {heap:.1f} {duck_ms:.1f} {ch_ms:.1f}", file=sys.stderr)

    print(table(rows))
    print("\nversions: duckdb", duckdb.__version__, "· chdb", chdb.__version__, "· Postgres", pg.info.server_version)


main()
