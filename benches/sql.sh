#!/usr/bin/env bash
# Plain SQL benchmark: analyst queries over tally.events (the TallyScan node over
# compacted segments, aggregates inside the scan by TallyAgg) and, in the same run, the
# same SQL over tally.events with tally.scan_aggregates off (TallyScan under Postgres's
# own Agg), over a heap copy of the same events with a (site_id, ts) index, and through
# DuckDB and chDB (embedded ClickHouse, both from PyPI) over the same events exported
# once. Prints a markdown table (median of 3 runs after a warm-up, ms, ratios and
# geometric means) for benches/RESULTS.md.
#
#   benches/sql.sh [EVENTS] [SHAPE]   default 1000000 events (20 sites, 30 days ending now)
#     SHAPE default: tally-core's generator as it is
#     SHAPE hicard:  pathnames and referrer sources redrawn from ~50,000 and ~2,000
#                    values with a Zipf-like (log-uniform) distribution, a source per visit
#
# Runs in a cluster of its own ($TALLY_STATE/bench-sql, port $TALLY_BENCH_PORT or
# 54321); the export is in $TALLY_STATE/bench-sql-SHAPE. Not part of ./dev test.
source "$(dirname "$0")/lib.sh"
cd "$TALLY_ROOT"

EVENTS=${1:-1000000}
SHAPE=${2:-default}
PORT=${TALLY_BENCH_PORT:-54321}
DIR="$TALLY_STATE/bench-sql"
DB="bench_sql_$SHAPE"
URL="host=127.0.0.1 port=$PORT user=postgres dbname=$DB"
WORK="$TALLY_STATE/bench-sql-$SHAPE"

bench_cluster
bench_python_engines
# Memory for both sides: the heap and the segments stay cached.
if [ "$(q -d postgres -c "SHOW shared_buffers")" != "2GB" ]; then
    q -d postgres -c "ALTER SYSTEM SET shared_buffers = '2GB'" -c "ALTER SYSTEM SET work_mem = '256MB'"
    scripts/pgcluster.sh stop "$DIR"
    scripts/pgcluster.sh ensure "$DIR" "$PORT"
fi

loaded=$(q -d postgres -c "SELECT 1 FROM pg_database WHERE datname = '$DB'")
if [ "$loaded" != 1 ] || [ "$(q -d "$DB" -c "SELECT count(*) FROM heap" 2>/dev/null)" != "$EVENTS" ]; then
    cargo build --release -q -p tally-gateway
    bench_new_db
    log "loading $EVENTS events (20 sites, 30 days ending now, shape $SHAPE)"
    TALLY_DATABASE_URL="$URL" target/release/tally-gateway seed --sites 20 --days 30 --events "$EVENTS" --domain bench.local >/dev/null
    if [ "$SHAPE" = hicard ]; then
        # exp(u·ln n) is log-uniform on [1, n): value k drawn with weight ~1/k, as Zipf(1).
        q -d "$DB" -c "UPDATE tally.events_hot SET
            pathname = '/p/' || floor(exp(random() * ln(50000)))::int,
            referrer_source = CASE WHEN referrer_source IS NULL THEN NULL
                ELSE 'source' || floor(exp((abs(hashint8(session_id)) % 1000000) / 1e6 * ln(2000)))::int END"
    fi
    log "heap copy with a (site_id, ts) index"
    q -d "$DB" -c "CREATE TABLE heap AS SELECT site_id, ts, name, visitor_id, session_id, hostname, pathname, referrer,
                       referrer_source, utm_source, utm_medium, utm_campaign, utm_term, utm_content, country, region, city,
                       browser, browser_version, os, os_version, device, screen_width, engagement_ms, revenue_micros,
                       revenue_currency, props FROM tally.events_hot" \
               -c "CREATE INDEX heap_site_ts ON heap (site_id, ts)" -c "VACUUM ANALYZE heap"
    log "compacting into segments"
    q -d "$DB" -c "SELECT tally.compact()" -c "VACUUM ANALYZE tally.segments"
    rm -rf "$WORK"
fi
if [ ! -f "$WORK/events.csv" ]; then
    log "exporting the heap copy for DuckDB and chDB"
    mkdir -p "$WORK"
    columns="site_id, (extract(epoch FROM ts) * 1000000)::int8, name, visitor_id, session_id, pathname, referrer_source, country, browser, device, engagement_ms, revenue_micros, props"
    q -d "$DB" -c "\\copy (SELECT $columns FROM heap) TO '$WORK/events.csv' CSV" \
               -c "\\copy (SELECT site_id, domain FROM tally.sites) TO '$WORK/sites.csv' CSV"
fi

# (name, SQL over {rel}); sites are Zipf-sized, site 1 the largest.
QUERIES=(
    "count_all|SELECT count(*) FROM {rel} e"
    "per_site_name|SELECT site_id, name, count(*) FROM {rel} e GROUP BY 1, 2"
    "visitors_per_site|SELECT site_id, count(DISTINCT visitor_id) FROM {rel} e GROUP BY 1"
    "top_paths_one_day|SELECT pathname, count(*) FROM {rel} e WHERE ts >= date_trunc('day', now()) - interval '3 days' AND ts < date_trunc('day', now()) - interval '2 days' GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 10"
    "revenue_browser_device|SELECT browser, device, sum(revenue_micros), count(revenue_micros) FROM {rel} e GROUP BY 1, 2"
    "site_30d_totals|SELECT count(*), count(DISTINCT visitor_id), count(DISTINCT session_id), avg(engagement_ms) FROM {rel} e WHERE site_id = 1 AND ts >= now() - interval '30 days'"
    "site_sources|SELECT referrer_source, count(*) FROM {rel} e WHERE site_id = 1 AND ts >= now() - interval '30 days' GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 10"
    "site_hourly_like|SELECT date_trunc('hour', ts), count(*) FROM {rel} e WHERE site_id = 1 AND pathname LIKE '/blog%' AND ts >= now() - interval '7 days' GROUP BY 1 ORDER BY 1"
    "site_country_mobile|SELECT country, count(*) FROM {rel} e WHERE site_id = 1 AND device = 'mobile' GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 10"
    "daily_pageviews|SELECT date_trunc('day', ts), count(*) FROM {rel} e WHERE name = 'pageview' GROUP BY 1 ORDER BY 1"
    "latest_of_site|SELECT ts, pathname, browser FROM {rel} e WHERE site_id = 2 ORDER BY ts DESC LIMIT 100"
    "props_breakdown|SELECT props ->> 'logged_in', count(*) FROM {rel} e WHERE site_id = 4 GROUP BY 1"
    "domains_last_day|SELECT s.domain, count(*) FROM {rel} e JOIN tally.sites s USING (site_id) WHERE e.ts >= now() - interval '1 day' GROUP BY 1 ORDER BY 2 DESC"
    "small_site_week|SELECT pathname, count(DISTINCT visitor_id) FROM {rel} e WHERE site_id = 15 AND ts >= now() - interval '7 days' GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 10"
)

segments=$(q -d "$DB" -c "SELECT count(*) FROM tally.segments")
log "$EVENTS events in $segments segments, shape $SHAPE"
printf '%s\n' "${QUERIES[@]}" | "$PYTHON" benches/sql_bench.py "$URL" "$WORK"
