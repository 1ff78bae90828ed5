#!/usr/bin/env bash
# Alert evaluation benchmark: one run of tally.evaluate_alerts() over RULES rules on a
# site with EVENTS events (35 days, compacted), against a baseline measured in the same
# run: one tally.query of the visitors of one whole past day, which decodes the one
# segment a window inside that day decodes (segments hold a UTC day), so the ratio says
# how many such queries one evaluation costs; compare it with the windows scanned.
#
#   benches/alerts.sh [EVENTS] [RULES]     defaults 1000000 and 100
#
# Rules: a quarter each of above, change_pct, anomaly (4 weeks) and filtered anomaly
# rules, windows of 5, 15, 60 and 240 minutes. Runs in a cluster of its own
# ($TALLY_STATE/bench-alerts, port $TALLY_BENCH_PORT or 54319). Not part of ./dev test.
source "$(dirname "$0")/lib.sh"
cd "$TALLY_ROOT"

EVENTS=${1:-1000000}
RULES=${2:-100}
PORT=${TALLY_BENCH_PORT:-54319}
DIR="$TALLY_STATE/bench-alerts"
DB=bench
URL="host=127.0.0.1 port=$PORT user=postgres dbname=$DB"

bench_cluster

if [ "$(q -d "$DB" -c "SELECT count(*) FROM tally.events" 2>/dev/null)" != "$EVENTS" ]; then
    cargo build --release -q -p tally-gateway
    bench_new_db
    log "loading $EVENTS events into one site (35 days ending now)"
    TALLY_DATABASE_URL="$URL" target/release/tally-gateway seed --sites 1 --days 35 --events "$EVENTS" --domain bench.local >/dev/null
    q -d "$DB" -c "SELECT tally.compact()" -c "VACUUM ANALYZE tally.segments" >/dev/null
fi

q -d "$DB" -c "DELETE FROM tally.alert_rules" >/dev/null
q -d "$DB" >/dev/null <<SQL
SELECT tally.create_alert_rule(1, jsonb_build_object(
    'name', 'rule ' || i, 'metric', (ARRAY['visitors', 'pageviews', 'visits', 'bounce_rate'])[1 + i % 4],
    'window_minutes', (ARRAY[5, 15, 60, 240])[1 + (i / 4) % 4],
    'condition', (ARRAY['above', 'change_pct', 'anomaly', 'anomaly'])[1 + (i / 16) % 4])
  || CASE (i / 16) % 4 WHEN 0 THEN '{"threshold": 1e9}' WHEN 1 THEN '{"threshold": 1000}'
                       WHEN 2 THEN '{}' ELSE '{"filters": [["is", "visit:device", ["mobile"]]]}' END::jsonb)
FROM generate_series(0, $RULES - 1) AS i;
SQL

# Median of 5 timed runs, in milliseconds, of a statement run inside a DO block.
time_ms() {
    q -d "$DB" -c "CREATE TEMP TABLE t (ms float8);
        DO \$\$ DECLARE s timestamptz; BEGIN
            FOR i IN 1..5 LOOP s := clock_timestamp(); PERFORM $1; INSERT INTO t VALUES (1000 * extract(epoch FROM clock_timestamp() - s)); END LOOP;
        END \$\$;
        SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 1) FROM t"
}
# Every run measures and judges every rule; only the first may record transitions.
evaluate=$(time_ms "tally.evaluate_alerts()")
day="(current_date - 2)::text"
query=$(time_ms "tally.query(jsonb_build_object('site_id', 1, 'date_range', jsonb_build_array($day, $day), 'metrics', jsonb_build_array('visitors')))")
scans=$(q -d "$DB" -c "SELECT sum(CASE condition WHEN 'above' THEN 1 WHEN 'change_pct' THEN 2 ELSE 1 + weeks END) FROM tally.alert_rules")
events=$(q -d "$DB" -c "SELECT count(*) FROM tally.events")
echo
echo "| events | rules | window scans | tally.evaluate_alerts() ms | per rule ms | tally.query of one day ms (baseline) | evaluation / baseline |"
echo "|---:|---:|---:|---:|---:|---:|---:|"
awk -v e="$events" -v r="$RULES" -v s="$scans" -v a="$evaluate" -v b="$query" \
    'BEGIN { printf "| %d | %d | %d | %.1f | %.2f | %.1f | %.1fx |\n", e, r, s, a, a / r, b, a / b }'
