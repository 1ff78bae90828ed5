#!/usr/bin/env bash
# Ingest stalls during compaction: the longest acknowledgement a steady ingest probe
# sees while compaction passes run, against the same probe with no pass running.
#
# A site with HISTORY_DAYS days of history (segments and rollups), the release gateway,
# and wrk sending 100-event batches in the background. A probe posts one event every
# 20 ms to POST /api/event and times each 202. Each phase lasts DURATION seconds:
#   baseline   no compaction
#   passes     `SELECT tally.compact(false)` (the background worker's pass) every
#              second, each after one batch-API event dated LATE_DAYS back (a random
#              hour of the history), which the pass recomputes the rollup hours of
# Two data shapes of the background load: ordinary (17 pages) and high-cardinality
# (a new page and property value in every event). Prints a markdown table for
# benches/RESULTS.md.
#
#   benches/ingest_stall.sh [DURATION_SECONDS] [HISTORY_EVENTS]   default 20 500000
#
# TALLY_BENCH_GATEWAY=/path/to/tally-gateway runs that binary instead of building this
# tree's; TALLY_BENCH_PGPORT and TALLY_BENCH_GWPORT move the cluster and the gateway.
# Not part of ./dev test. Traffic goes to 127.0.0.1 only.
source "$(dirname "$0")/lib.sh"
cd "$TALLY_ROOT"

DURATION=${1:-20}
HISTORY=${2:-500000}
HISTORY_DAYS=700
LATE_DAYS=600
PORT=${TALLY_BENCH_PGPORT:-54321}
GW_PORT=${TALLY_BENCH_GWPORT:-54322}
DIR="$TALLY_STATE/bench-stall"
DB=bench
URL="host=127.0.0.1 port=$PORT user=postgres dbname=$DB"
BASE="http://127.0.0.1:$GW_PORT"
WORK=$(mktemp -d)
trap 'kill "${gw_pid:-}" "${wrk_pid:-}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$WORK"' EXIT

bench_cluster
command -v wrk >/dev/null || { apt-get update -qq; apt-get install -y -qq --no-install-recommends wrk >/dev/null; }
bench_gateway_binary
bench_new_db
log "seeding $HISTORY events over $HISTORY_DAYS days, compacting them and building their rollups"
TALLY_DATABASE_URL="$URL" "$GATEWAY" seed --sites 1 --days "$HISTORY_DAYS" --events "$HISTORY" --domain bench.local >/dev/null
q -d "$DB" -c "SELECT tally.compact(true)" >/dev/null
key=$(q -d "$DB" -c "SELECT key FROM tally.create_ingest_key(1)")

bench_gateway_start

UA='Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36'
for shape in ordinary wide; do
    cat > "$WORK/$shape.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $key"
wrk.headers["User-Agent"] = "$UA"
local n = 0
request = function()
  local events = {}
  for i = 1, 100 do
    n = n + 1
    local page = "$shape" == "wide" and n or (i % 17)
    events[i] = '{"name":"pageview","url":"https://bench.local/page/' .. page .. '","props":{"n":"' .. n .. '"}}'
  end
  return wrk.format(nil, nil, nil, "[" .. table.concat(events, ",") .. "]")
end
LUA
done

# The probe: one event every 20 ms for $1 seconds; prints each acknowledgement's ms.
probe() {
    python3 - "$GW_PORT" "$1" <<'PY'
import http.client, json, sys, time
port, seconds = int(sys.argv[1]), float(sys.argv[2])
conn = http.client.HTTPConnection("127.0.0.1", port)
body = json.dumps({"n": "pageview", "u": "https://bench.local/probe", "d": "bench.local"})
headers = {"Content-Type": "application/json", "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0"}
end = time.monotonic() + seconds
while time.monotonic() < end:
    t0 = time.monotonic()
    conn.request("POST", "/api/event", body, headers)
    resp = conn.getresponse(); resp.read()
    assert resp.status == 202, resp.status
    print(f"{(time.monotonic() - t0) * 1000:.2f}")
    time.sleep(0.02)
PY
}

# Compaction passes, one a second, each after a late event, until $1 exists.
passes() {
    local n=0
    while [ ! -e "$1" ]; do
        ts=$(python3 -c "import time, random; print(int((time.time() - $LATE_DAYS * 86400 + random.randrange(48) * 3600) * 1000))")
        curl -fsS -o /dev/null -X POST "$BASE/api/v1/events" -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
            -d "[{\"name\":\"late\",\"url\":\"https://bench.local/late\",\"timestamp\":$ts}]"
        local t0; t0=$(date +%s%N)
        q -d "$DB" -c "SELECT tally.compact(false)" >/dev/null
        echo $(( ($(date +%s%N) - t0) / 1000000 )) >> "$WORK/pass-ms"
        n=$((n + 1))
        sleep 1
    done
}

for shape in ordinary wide; do
    wrk -t1 -c8 -d$((DURATION * 2 + 10))s -s "$WORK/$shape.lua" "$BASE/api/v1/events" > "$WORK/wrk-$shape.out" 2>&1 &
    wrk_pid=$!
    sleep 3
    log "$shape: baseline, no compaction, ${DURATION}s"
    q -d "$DB" -c "SELECT tally.compact(true)" >/dev/null
    probe "$DURATION" > "$WORK/$shape-baseline.ms"
    log "$shape: compaction passes with a late event each, ${DURATION}s"
    rm -f "$WORK/stop" "$WORK/pass-ms"
    passes "$WORK/stop" &
    passes_pid=$!
    probe "$DURATION" > "$WORK/$shape-passes.ms"
    touch "$WORK/stop"
    wait "$passes_pid"
    mv "$WORK/pass-ms" "$WORK/$shape-pass.ms"
    kill "$wrk_pid" 2>/dev/null || true
    wait "$wrk_pid" 2>/dev/null || true
done

python3 - "$WORK" "$DURATION" "$HISTORY" "$HISTORY_DAYS" "$LATE_DAYS" "$(nproc)" <<'PY'
import sys
work, duration, history, days, late, cores = sys.argv[1:7]
def ms(name):
    return sorted(float(x) for x in open(f"{work}/{name}.ms").read().split())
def pct(v, p):
    return v[min(len(v) - 1, int(len(v) * p / 100))]
print(f"{duration}s per phase, probe: one POST /api/event every 20 ms beside wrk -t1 -c8 (100-event batches); "
      f"{int(history):,} events of history over {days} days; {cores} cores\n")
print("| shape | phase | probes | p50 | p99 | longest ack | longest vs baseline | passes | longest pass |")
print("|---|---|---|---|---|---|---|---|---|")
for shape in ("ordinary", "wide"):
    base = ms(f"{shape}-baseline")
    for phase in ("baseline", "passes"):
        v = ms(f"{shape}-{phase}")
        passes = ms(f"{shape}-pass") if phase == "passes" else []
        pass_cols = f"{len(passes)} | {max(passes):.0f} ms" if passes else "- | -"
        print(f"| {shape} | {phase} | {len(v)} | {pct(v, 50):.2f} ms | {pct(v, 99):.2f} ms | {v[-1]:.1f} ms | "
              f"{v[-1] / base[-1]:.2f} | {pass_cols} |")
PY
