#!/usr/bin/env bash
# Rollup path of tally.query: dashboard questions over 30 days of one site answered by
# a full scan of the segments (tally.query_rollups = off) and from the hourly rollups
# (on), in the same cluster and run, with the relative error of the rollups' visitors
# (HyperLogLog) against the scan's exact count for every group. The site's data ends
# now; after compaction a few hundred fresh events of the last 10 minutes stay hot, as
# on a live site (their hours and the 4 before them are read raw).
#
#   benches/query_rollups.sh [EVENTS]        default 2000000
#
# Runs in a cluster of its own ($TALLY_STATE/bench-query-rollups, port
# TALLY_BENCH_PORT, default 54318) and prints a markdown table for benches/RESULTS.md.
# Not part of ./dev test.
source "$(dirname "$0")/lib.sh"
cd "$TALLY_ROOT"

EVENTS=${1:-2000000}
PORT=${TALLY_BENCH_PORT:-54318}
DIR="$TALLY_STATE/bench-query-rollups"
DB=bench
URL="host=127.0.0.1 port=$PORT user=postgres dbname=$DB"
RUNS=5

bench_cluster
cargo build --release -q -p tally-gateway
bench_new_db
log "loading $EVENTS events (one site, 30 days ending now)"
TALLY_DATABASE_URL="$URL" target/release/tally-gateway seed --sites 1 --days 30 --events "$EVENTS" --domain bench.local >/dev/null
log "compacting (segments and rollups)"
q -d "$DB" -c "SELECT tally.compact(true)" -c "VACUUM ANALYZE" >/dev/null
cols=$(q -d "$DB" -c "SELECT string_agg(attname, ', ' ORDER BY attnum) FROM pg_attribute
                      WHERE attrelid = 'tally.events'::regclass AND attnum > 0 AND NOT attisdropped")
q -d "$DB" -c "CREATE TABLE fresh AS SELECT * FROM tally.events(1, (SELECT max(max_ts) FROM tally.segments) - interval '3 hours', now()) LIMIT 500" \
           -c "UPDATE fresh SET ts = now() - random() * interval '10 minutes', session_id = session_id # 1" \
           -c "INSERT INTO tally.events_hot ($cols) SELECT $cols FROM fresh"

q -d "$DB" <<'SQL'
-- Median wall time (ms) of RUNS calls after a warm-up, and the answer.
CREATE FUNCTION bench(query jsonb, rollups bool, runs int, OUT ms float8, OUT answer jsonb) LANGUAGE plpgsql AS $$
DECLARE
    t timestamptz;
    times float8[] := '{}';
BEGIN
    PERFORM set_config('tally.query_rollups', rollups::text, false);
    answer := tally.query(query);
    FOR i IN 1..runs LOOP
        t := clock_timestamp();
        PERFORM tally.query(query);
        times := times || 1000 * extract(epoch FROM clock_timestamp() - t)::float8;
    END LOOP;
    SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x) INTO ms FROM unnest(times) x;
END $$;
-- Largest and mean relative error of metric 0 (visitors) of `got` against `exact`,
-- over the groups both have, weighted by visitors.
CREATE FUNCTION visitor_error(got jsonb, exact jsonb, OUT max_error float8, OUT mean_error float8, OUT groups int)
LANGUAGE sql AS $$
    SELECT max(abs(g - e) / e), sum(abs(g - e)) / sum(e), count(*)::int
    FROM (SELECT (a->'metrics'->>0)::float8 AS g, (b->'metrics'->>0)::float8 AS e
          FROM jsonb_array_elements(got->'results') a JOIN jsonb_array_elements(exact->'results') b
            ON a->'dimensions' = b->'dimensions') x
    WHERE e > 0
$$;
SQL

# name|query: the dashboard's questions (panels/*.js) on the 30 days.
QUESTIONS=(
    'aggregate|{"metrics": ["visitors", "visits", "pageviews", "bounce_rate", "visit_duration", "views_per_visit"]}'
    'KPIs with comparison|{"metrics": ["visitors", "visits", "pageviews", "bounce_rate", "visit_duration", "views_per_visit"], "include": {"comparisons": {"mode": "previous_period"}}}'
    'daily series|{"metrics": ["visitors"], "dimensions": ["time:day"], "include": {"comparisons": {"mode": "previous_period"}}}'
    'hourly series|{"metrics": ["visitors", "pageviews"], "dimensions": ["time:hour"]}'
    'top pages|{"metrics": ["visitors", "pageviews"], "dimensions": ["event:page"], "order_by": [["visitors", "desc"]]}'
    'top sources|{"metrics": ["visitors", "bounce_rate"], "dimensions": ["visit:source"], "order_by": [["visitors", "desc"]]}'
    'countries|{"metrics": ["visitors"], "dimensions": ["visit:country"], "order_by": [["visitors", "desc"]]}'
    'devices|{"metrics": ["visitors"], "dimensions": ["visit:device"], "order_by": [["visitors", "desc"]]}'
    'browsers|{"metrics": ["visitors"], "dimensions": ["visit:browser"], "order_by": [["visitors", "desc"]]}'
    'events|{"metrics": ["visitors", "events"], "dimensions": ["event:name"], "order_by": [["visitors", "desc"]]}'
)
echo "| question | full scan | rollups | speed-up | path | visitors error, max / weighted mean (groups) |"
echo "|---|---|---|---|---|---|"
for entry in "${QUESTIONS[@]}"; do
    name=${entry%%|*}
    query=$(python3 -c 'import json, sys; q = json.loads(sys.argv[1]); q.update(site_id="bench.local", date_range="30d"); print(json.dumps(q))' "${entry#*|}")
    q -d "$DB" -v name="$name" -v query="$query" -v runs="$RUNS" <<'SQL'
SELECT format('| %s | %s ms | %s ms | %sx | %s | %s%% / %s%% (%s) |', :'name',
              round(s.ms::numeric, 1), round(r.ms::numeric, 1), round((s.ms / r.ms)::numeric, 1),
              r.answer->'meta'->>'path', round(100 * e.max_error::numeric, 2), round(100 * e.mean_error::numeric, 2), e.groups)
FROM bench(:'query'::jsonb, false, :runs) s, bench(:'query'::jsonb, true, :runs) r, visitor_error(r.answer, s.answer) e
SQL
done
rows=$(q -d "$DB" -c "SELECT count(*) || ' rows, ' || pg_size_pretty(pg_total_relation_size('tally.rollups')) FROM tally.rollups")
echo
echo "rollups: $rows; events: $EVENTS (one site, 30 days), $(q -d "$DB" -c "SELECT count(*) FROM tally.events_hot") hot"
