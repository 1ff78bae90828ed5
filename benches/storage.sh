#!/usr/bin/env bash
# Storage benchmark: what Tally stores per event, for the whole database and per
# relation, and how fast history loads, on generated traffic shaped like real sites
# (20 Zipf-sized sites, Zipf pages and sources, multi-page visits, daily and weekly
# cycles), against the same events as plain heap rows.
#
#   benches/storage.sh [EVENTS] [SHAPE]   default 1000000 events, shape default
#     SHAPE default: tally-core's generator as it is
#     SHAPE hicard:  pathnames and referrer sources redrawn from ~50,000 and ~2,000
#                    values with a Zipf-like (log-uniform) distribution, a source per
#                    visit (as benches/sql.sh)
#
# The load is the history path of docs/import.md when it exists in the installed
# extension (tally.import_events from a staging table), else the hot table then
# `tally.compact()` and `tally.build_daily_rollups()`; both are timed end to end (the
# import's progress NOTICEs go to $TALLY_STATE/bench-import.log). The database is left
# behind (for benches/rollup_layouts.sql, on builds that store every rollup as rows).
# Runs in a cluster of its own ($TALLY_STATE/bench, port TALLY_BENCH_PORT, default
# 54317) and prints markdown tables for benches/RESULTS.md. Not part of ./dev test.
source "$(dirname "$0")/lib.sh"
cd "$TALLY_ROOT"

EVENTS=${1:-1000000}
SHAPE=${2:-default}
PORT=${TALLY_BENCH_PORT:-54317}
DIR="$TALLY_STATE/bench"
DB=bench_storage
URL="host=127.0.0.1 port=$PORT user=postgres dbname=$DB"

bench_cluster
cargo build --release -q -p tally-gateway
bench_new_db
# The background worker compacts database `tally`, not this one: the compaction below
# is the only one, and is timed alone.
q -d "$DB" -c "CHECKPOINT"
empty=$(q -d "$DB" -c "SELECT pg_database_size(current_database())")

now() { date +%s.%N; }
log "generating $EVENTS events (shape $SHAPE) into the hot table"
t0=$(now)
TALLY_DATABASE_URL="$URL" target/release/tally-gateway seed --sites 20 --days 30 --events "$EVENTS" --domain bench.local >/dev/null
t1=$(now)
if [ "$SHAPE" = hicard ]; then
    # exp(u·ln n) is log-uniform on [1, n): value k drawn with weight ~1/k, as Zipf(1).
    q -d "$DB" -c "UPDATE tally.events_hot SET
        pathname = '/p/' || floor(exp(random() * ln(50000)))::int,
        referrer_source = CASE WHEN referrer_source IS NULL THEN NULL
            ELSE 'source' || floor(exp((abs(hashint8(session_id)) % 1000000) / 1e6 * ln(2000)))::int END"
fi
columns="site_id, ts, name, visitor_id, session_id, hostname, pathname, referrer, referrer_source, utm_source,
         utm_medium, utm_campaign, utm_term, utm_content, country, region, city, browser, browser_version, os,
         os_version, device, screen_width, engagement_ms, revenue_micros, revenue_currency, props, scroll_depth,
         interactive, channel"
# The baseline: the same events as a plain heap table with a (site_id, ts) index.
q -d "$DB" -c "CREATE TABLE heap AS SELECT $columns FROM tally.events_hot" \
           -c "CREATE INDEX heap_site_ts ON heap (site_id, ts)" -c "VACUUM ANALYZE heap"
heap_total=$(q -d "$DB" -c "SELECT pg_total_relation_size('heap')")
check="SELECT count(*) || '/' || sum(visitor_id % 1000) || '/' || count(DISTINCT pathname) FROM tally.events"
before=$(q -d "$DB" -c "$check")

import=$(q -d "$DB" -c "SELECT count(*) FROM pg_proc WHERE proname = 'import_events'")
if [ "$import" = 1 ]; then
    # Staging as an import receives it: the hot rows moved to a table of their own, in
    # time order as an export comes (the hot ring's partitions interleave time ranges).
    q -d "$DB" -c "CREATE TABLE staging AS SELECT $columns FROM tally.events_hot ORDER BY ts" -c "TRUNCATE tally.events_hot" \
               -c "VACUUM ANALYZE staging"
    log "importing through tally.import_events"
    t2=$(now)
    moved=$(q -d "$DB" -c "SELECT tally.import_events('staging')" 2>"$TALLY_STATE/bench-import.log")
    t3=$(now); t4=$t3
    q -d "$DB" -c "DROP TABLE staging"
    path="tally.import_events('staging')"
else
    log "compacting, then building the daily and weekly rollups"
    t2=$(now)
    moved=$(q -d "$DB" -c "SELECT tally.compact()")
    t3=$(now)
    q -d "$DB" -c "SELECT tally.build_daily_rollups()" >/dev/null
    t4=$(now)
    path="hot table, tally.compact(), tally.build_daily_rollups()"
fi
after=$(q -d "$DB" -c "$check")
[ "$before" = "$after" ] || die "events differ after loading: $before vs $after"
[ "$moved" = "$EVENTS" ] || die "stored $moved of $EVENTS events"

q -d "$DB" -c "DROP TABLE heap" -c "VACUUM ANALYZE" -c "CHECKPOINT"
whole=$(q -d "$DB" -c "SELECT pg_database_size(current_database())")
relations="SELECT CASE WHEN c.relname LIKE 'events_hot%' THEN 'events_hot (all partitions)' ELSE c.relname END,
                  sum(pg_total_relation_size(c.oid)), sum(pg_relation_size(c.oid))
           FROM pg_class c WHERE c.relnamespace = 'tally'::regnamespace AND c.relkind IN ('r', 'm')
           GROUP BY 1 HAVING sum(pg_total_relation_size(c.oid)) > 65536 ORDER BY 2 DESC"
per_relation=$(q -d "$DB" -F '|' -c "$relations")
rows=$(q -d "$DB" -F '|' -c "SELECT 'rollups', count(*) FROM tally.rollups UNION ALL
    SELECT 'rollups_daily', count(*) FROM tally.rollups_daily UNION ALL SELECT 'rollups_weekly', count(*) FROM tally.rollups_weekly")
q -d "$DB" -c "VACUUM FULL tally.segments" -c "CHECKPOINT"
packed=$(q -d "$DB" -c "SELECT pg_database_size(current_database())")
segments=$(q -d "$DB" -c "SELECT count(*) || ' segments' FROM tally.segments")

python3 - "$EVENTS" "$SHAPE" "$t0" "$t1" "$t2" "$t3" "$t4" "$heap_total" "$empty" "$whole" "$packed" "$segments" "$path" "$per_relation" "$rows" <<'PY'
import sys
n, shape = int(sys.argv[1]), sys.argv[2]
t0, t1, t2, t3, t4 = map(float, sys.argv[3:8])
heap_total, empty, whole, packed = map(int, sys.argv[8:12])
segments, path, per_relation, rows = sys.argv[12:16]
counts = dict(line.split("|") for line in rows.splitlines())
print(f"| {n:,} events, shape {shape} ({segments}) | bytes/event |")
print("|---|---|")
print(f"| whole database, growth of pg_database_size | **{(whole - empty) / n:.1f}** |")
print(f"| whole database, after VACUUM FULL tally.segments | {(packed - empty) / n:.1f} |")
for line in per_relation.splitlines():
    name, total, main = line.split("|")
    extra = f" ({int(counts[name]):,} rows)" if name in counts else ""
    print(f"| {name}{extra}: total (main table) | {int(total) / n:.1f} ({int(main) / n:.1f}) |")
print(f"| baseline: heap table + (site_id, ts) index | {heap_total / n:.1f} |")
print()
print("| load | events/s |")
print("|---|---|")
print(f"| generate into the hot table through binary COPY (1 client) | {n / (t1 - t0):,.0f} ({t1 - t0:.1f} s) |")
if t4 > t3:
    print(f"| tally.compact() (with hourly rollups) | {n / (t3 - t2):,.0f} ({t3 - t2:.1f} s) |")
    print(f"| tally.build_daily_rollups() | {n / (t4 - t3):,.0f} ({t4 - t3:.1f} s) |")
print(f"| history to compacted, rolled-up storage: {path} | **{n / (t4 - t2):,.0f}** ({t4 - t2:.1f} s) |")
PY
