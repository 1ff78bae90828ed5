#!/usr/bin/env bash
# Dashboard speed: time to the first complete render and the duration of each API call
# the dashboard makes, in headless Chromium against a release gateway over EVENTS
# generated events (30 days, compacted) spread over SITES Zipf-sized sites; the dashboard
# shows the largest (`bench.local`, about 30% of the events when SITES is 20, the shape
# of the query bench). Prints a markdown table for benches/RESULTS.md; each call is timed
# as the page saw it, by the gateway (Server-Timing) in the page, alone, and from a blank
# page of a fresh browser context. Targets (issue 9):
# first render <= 1 s, every call <= 300 ms.
#
#   benches/dashboard.sh [EVENTS] [RUNS] [SITES]   default 1000000 events, 5 page loads, 1 site
#
# Runs in a cluster of its own ($TALLY_STATE/bench-dash, port $TALLY_BENCH_PORT or
# 54319) and a gateway on $TALLY_BENCH_LISTEN (127.0.0.1:8719). Not part of ./dev test.
#
# TALLY_BENCH_BROWSER_NICE (default 10) is the nice value of the client's sessions: the
# script driving the browser (run in a session of its own) and Chromium's. Linux
# splits the CPU evenly between sessions (autogroups), Playwright starts Chromium in a
# session of its own, and a page's start-up keeps both cores busy for about half a
# second: at 0 the server (Postgres, another session) gets one core of two while the
# page loads, which a dashboard's user, whose browser runs on another machine, never
# sees; at 10 the server gets about 90% of the cores. 0 measures the co-located case.
# TALLY_BENCH_WARMUP (default 10) loads of each view go unrecorded first: the bench
# measures a running gateway, whose pooled backends have done their first scans.
source "$(dirname "$0")/lib.sh"
cd "$TALLY_ROOT"

EVENTS=${1:-1000000}
RUNS=${2:-5}
SITES=${3:-1}
PORT=${TALLY_BENCH_PORT:-54319}
LISTEN=${TALLY_BENCH_LISTEN:-127.0.0.1:8719}
DIR="$TALLY_STATE/bench-dash"
DB=bench
URL="host=127.0.0.1 port=$PORT user=postgres dbname=$DB"
SITE=bench.local

bench_cluster
scripts/build-dashboard.sh
cargo build --release -q -p tally-gateway

# The data ends when it was loaded; a reload every day keeps "last 30 days" full, and
# one after the extension's SQL changed keeps its functions current.
stamp="$EVENTS events, $SITES sites, $(date -u +%F), sql $(extension_sql_fingerprint)"
if [ "$(q -d "$DB" -c "SELECT description FROM pg_description WHERE objoid = 'tally.sites'::regclass AND objsubid = 0" 2>/dev/null)" != "$stamp" ]; then
    bench_new_db
    log "loading $EVENTS events ($SITES sites, 30 days ending now)"
    TALLY_DATABASE_URL="$URL" target/release/tally-gateway seed --sites "$SITES" --days 30 --events "$EVENTS" --domain "$SITE" >/dev/null
    q -d "$DB" -c "SELECT tally.create_goal(1, 'Signup', event_name => 'Signup'), tally.create_goal(1, 'Purchase', event_name => 'Purchase')" >/dev/null
    log "compacting into segments"
    q -d "$DB" -c "SELECT tally.compact()" -c "VACUUM ANALYZE tally.segments" >/dev/null
    q -d "$DB" -c "COMMENT ON TABLE tally.sites IS '$stamp'"
fi

# Daily rollups of the days that settled since the load (the bench database has no
# background worker).
q -d "$DB" -c "SELECT tally.build_daily_rollups()" -c "ANALYZE tally.rollups_daily" >/dev/null

# The bench's own administrator (create-admin resets an existing one's password), a
# member of the site like ./dev up's demo administrator.
BENCH_EMAIL=bench@bench.local
BENCH_PASSWORD="bench-$(date +%F)-password"
TALLY_DATABASE_URL="$URL" TALLY_ADMIN_PASSWORD="$BENCH_PASSWORD" target/release/tally-gateway create-admin \
    --email "$BENCH_EMAIL" --name "Bench" >/dev/null
q -d "$DB" -c "SELECT tally.set_membership(u.user_id, s.site_id, 'admin') FROM tally.users u, tally.sites s
               WHERE u.email = '$BENCH_EMAIL' AND s.domain = '$SITE'" >/dev/null

log "starting a release gateway on $LISTEN"
TALLY_DATABASE_URL="$URL" TALLY_LISTEN="$LISTEN" TALLY_DASHBOARD_DIR="$TALLY_ROOT/dashboards/dist" \
    TALLY_SPOOL_DIR="$TALLY_STATE/bench-dash-spool" TALLY_LOG=warn target/release/tally-gateway serve &
gateway=$!
trap 'kill $gateway 2>/dev/null; wait $gateway 2>/dev/null' EXIT
for _ in $(seq 100); do curl -fsS -m 2 "http://$LISTEN/healthz" >/dev/null 2>&1 && break; sleep 0.1; done

run() { (cd tests/browser && TALLY_BENCH_EMAIL="$BENCH_EMAIL" TALLY_BENCH_PASSWORD="$BENCH_PASSWORD" \
             TALLY_BENCH_BROWSER_NICE="${TALLY_BENCH_BROWSER_NICE:-10}" TALLY_BENCH_WARMUP="${TALLY_BENCH_WARMUP:-10}" setsid node dashboard-bench.mjs "http://$LISTEN" "$SITE" "$RUNS" "$1"); }
log "loading the dashboard $RUNS times per view"
{
    echo "default $(run "")"
    echo "filtered $(run "f=is%7Cvisit%3Acountry%7CUS")"
    echo "7d $(run "period=7d")"
} | python3 -c '
import json, statistics, sys
print("| view | first render, median (max) ms | slowest call, median (max) ms | calls per load | loads over a target |")
print("|---|---:|---:|---:|---:|")
per_call = {}
for line in sys.stdin:
    view, data = line.split(" ", 1)
    r = json.loads(data)
    render = r["first_render_ms"]
    slowest = [max(ms[i] for ms in r["calls"].values()) for i in range(len(render))]
    calls = sum(len(ms) for ms in r["calls"].values()) // len(render)
    over = sum(1 for ms, call in zip(render, slowest) if ms > 1000 or call > 300)
    print(f"| {view} | {statistics.median(render):.0f} ({max(render)}) | {statistics.median(slowest):.0f} ({max(slowest)}) | {calls} | {over} of {len(render)} |")
    per_call[view] = r
print()
print("| view | call | in the page, median (max) ms | the gateway, in the page | alone | from a blank page in a fresh context |")
print("|---|---|---:|---:|---:|---:|")
for view, r in per_call.items():
    for name, ms in sorted(r["calls"].items(), key=lambda kv: -statistics.median(kv[1])):
        cells = [ms, [s for s in r["server"][name] if s is not None], r["alone"][name], r["fresh_context"][name]]
        print(f"| {view} | {name} | " + " | ".join(f"{statistics.median(c):.0f} ({max(c)})" if c else "-" for c in cells) + " |")
'
