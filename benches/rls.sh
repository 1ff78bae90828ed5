#!/usr/bin/env bash
# Row-level security overhead: the same tally.query calls on a site of 1M compacted
# events, by a superuser (RLS bypassed) and under SET ROLE of an analyst of that site
# (every read of sites, goals, segments and hot rows goes through the policies), in
# alternating rounds of one run. Prints a markdown table for benches/RESULTS.md.
#
#   benches/rls.sh [EVENTS]        default 1000000 (one site, 30 days)
#
# Uses database bench_rls in the cluster $TALLY_BENCH_DIR (default
# $TALLY_STATE/bench-rls) on port $TALLY_BENCH_PORT (default 54319). Not part of ./dev test.
source "$(dirname "$0")/lib.sh"
cd "$TALLY_ROOT"

EVENTS=${1:-1000000}
PORT=${TALLY_BENCH_PORT:-54319}
DIR=${TALLY_BENCH_DIR:-$TALLY_STATE/bench-rls}
DB=bench_rls
ROUNDS=5

bench_cluster

if [ "$(q -d "$DB" -c "SELECT count(*) FROM tally.events" 2>/dev/null)" != "$EVENTS" ]; then
    cargo build --release -q -p tally-gateway
    bench_new_db
    log "loading $EVENTS events into one site (30 days ending now) and compacting"
    TALLY_DATABASE_URL="host=127.0.0.1 port=$PORT user=postgres dbname=$DB" \
        target/release/tally-gateway seed --sites 1 --days 30 --events "$EVENTS" --domain rls.bench >/dev/null
    q -d "$DB" -c "SELECT tally.compact()" -c "VACUUM ANALYZE tally.segments" >/dev/null
    # A few fresh hot rows, as a live site has.
    q -d "$DB" -c "INSERT INTO tally.events_hot (site_id, ts, name, visitor_id, session_id, hostname, pathname)
                   SELECT 1, now() - i * interval '1 second', 'pageview', i, i, 'rls.bench', '/' FROM generate_series(1, 1000) i"
fi
# An analyst of the site, and a second site it may not see (so the policy has work).
q -d "$DB" -c "SELECT tally.create_site('other.bench')" >/dev/null
role=$(q -d "$DB" -c "SELECT pg_role FROM tally.users WHERE email = 'analyst@rls.bench'")
if [ -z "$role" ]; then
    id=$(q -d "$DB" -c "SELECT tally.create_user('analyst@rls.bench', 'Analyst', '\$argon2id\$not-a-login', false)")
    q -d "$DB" -c "SELECT tally.set_membership($id, 1, 'analyst')" >/dev/null
    role=$(q -d "$DB" -c "SELECT pg_role FROM tally.users WHERE user_id = $id")
fi

# Median milliseconds of N calls of tally.query(q), as whoever calls it.
q -d "$DB" -c "CREATE OR REPLACE FUNCTION public.bench_query(q jsonb, n int) RETURNS float8 LANGUAGE plpgsql AS \$\$
DECLARE t timestamptz; ms float8[] := '{}';
BEGIN
    FOR i IN 1 .. n LOOP
        t := clock_timestamp();
        PERFORM tally.query(q);
        ms := ms || extract(epoch FROM clock_timestamp() - t)::float8 * 1000;
    END LOOP;
    RETURN (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY m) FROM unnest(ms) m);
END \$\$"

queries=(
    'visitors, 30 days|{"site_id": "rls.bench", "date_range": "30d", "metrics": ["visitors", "visits", "pageviews", "bounce_rate"]}'
    'top pages, 30 days|{"site_id": "rls.bench", "date_range": "30d", "metrics": ["visitors", "pageviews"], "dimensions": ["event:page"], "pagination": {"limit": 10}}'
    'daily series, 7 days|{"site_id": "rls.bench", "date_range": "7d", "metrics": ["visitors"], "dimensions": ["time:day"]}'
    'realtime|{"site_id": "rls.bench", "date_range": "realtime", "metrics": ["visitors"]}'
)
echo "| query | superuser, no RLS (ms) | analyst under RLS (ms) | RLS / no RLS |"
echo "|---|---|---|---|"
for entry in "${queries[@]}"; do
    name=${entry%%|*}; json=${entry#*|}
    plain=(); rls=()
    for _ in $(seq $ROUNDS); do
        plain+=("$(q -d "$DB" -c "SELECT bench_query('$json', 5)")")
        rls+=("$(q -d "$DB" -c "BEGIN" -c "SET LOCAL ROLE \"$role\"" -c "SELECT bench_query('$json', 5)" -c "COMMIT")")
    done
    # The median of the rounds' medians.
    med() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
    p=$(med "${plain[@]}"); r=$(med "${rls[@]}")
    awk -v n="$name" -v p="$p" -v r="$r" 'BEGIN { printf "| %s | %.1f | %.1f | %.2f |\n", n, p, r, r / p }'
done
