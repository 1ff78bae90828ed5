#!/usr/bin/env bash
# Stats query benchmark: dashboard questions answered by tally.query over compacted
# segments, and in the same run by plain SQL over a heap copy of the same events with a
# (site_id, ts) index, by DuckDB and by chDB (embedded ClickHouse), both from PyPI,
# over the same events. Prints a markdown table for benches/RESULTS.md.
#
#   benches/query.sh [EVENTS]        default 10000000 (20 sites, 30 days)
#
# Runs in a cluster of its own ($TALLY_STATE/bench-query, port $TALLY_BENCH_PORT or
# 54318); DuckDB and chDB in the tools venv (bench_python_engines). Not part of ./dev test.
source "$(dirname "$0")/lib.sh"
cd "$TALLY_ROOT"

EVENTS=${1:-10000000}
PORT=${TALLY_BENCH_PORT:-54318}
DIR="$TALLY_STATE/bench-query"
DB=bench
URL="host=127.0.0.1 port=$PORT user=postgres dbname=$DB"
WORK="$TALLY_STATE/bench-query-data"

bench_cluster
# Memory for both sides: the heap (about 2.5 GB at 10M events) and the segments stay cached.
if [ "$(q -d postgres -c "SHOW shared_buffers")" != "4GB" ]; then
    q -d postgres -c "ALTER SYSTEM SET shared_buffers = '4GB'" -c "ALTER SYSTEM SET work_mem = '256MB'"
    scripts/pgcluster.sh stop "$DIR"
    scripts/pgcluster.sh ensure "$DIR" "$PORT"
fi

bench_python_engines

loaded=$(q -d postgres -c "SELECT 1 FROM pg_database WHERE datname = '$DB'")
if [ "$loaded" != 1 ] || [ "$(q -d "$DB" -c "SELECT count(*) FROM heap" 2>/dev/null)" != "$EVENTS" ]; then
    cargo build --release -q -p tally-gateway
    bench_new_db
    log "loading $EVENTS events (20 sites, 30 days ending now)"
    TALLY_DATABASE_URL="$URL" target/release/tally-gateway seed --sites 20 --days 30 --events "$EVENTS" --domain bench.local >/dev/null
    q -d "$DB" -c "SELECT tally.create_goal(1, 'Signup', event_name => 'Signup'), tally.create_goal(1, 'Purchase', event_name => 'Purchase')"
    log "heap copy with a (site_id, ts) index"
    q -d "$DB" -c "CREATE TABLE heap AS SELECT * FROM tally.events_hot" \
               -c "CREATE INDEX heap_site_ts ON heap (site_id, ts)" -c "VACUUM ANALYZE heap"
    log "compacting into segments"
    q -d "$DB" -c "SELECT tally.compact()" -c "VACUUM ANALYZE tally.segments"
    log "exporting for DuckDB and chDB"
    rm -rf "$WORK"; mkdir -p "$WORK"
    q -d "$DB" -c "\\copy (SELECT site_id, (extract(epoch FROM ts) * 1000000)::int8, name, visitor_id, session_id, pathname, referrer_source, utm_campaign, country, device, browser, revenue_micros FROM heap) TO '$WORK/events.csv' CSV"
fi

# Daily rollups of the days that settled since the load (the bench database has no
# background worker).
q -d "$DB" -c "SELECT tally.build_daily_rollups()" -c "ANALYZE tally.rollups_daily" >/dev/null

"$PYTHON" benches/query_bench.py "$URL" "$WORK"
