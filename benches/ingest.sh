#!/usr/bin/env bash
# Ingest benchmark: the release gateway on loopback under wrk (Debian's), against a
# cluster of its own. Measures, each for DURATION seconds:
#   baseline  GET /tally.js          the loopback HTTP ceiling of this machine (no parsing, no DB)
#   batched   POST /api/v1/events    100 events per request, ingest key auth
#   single    POST /api/event        one Plausible event per request
# and prints a markdown table (req/s, events/s, p50/p99 acknowledgement latency, ratio
# to the baseline) for benches/RESULTS.md. Every 202 is an event committed in Postgres;
# the script checks the stored count against wrk's request count.
#
#   benches/ingest.sh [DURATION_SECONDS]      default 15
#
# TALLY_BENCH_GATEWAY=/path/to/tally-gateway runs that binary instead of building this
# tree's: to compare two builds in alternating runs under the same machine load.
#
# Not part of ./dev test. Traffic goes to 127.0.0.1 only and stops after DURATION.
source "$(dirname "$0")/lib.sh"
cd "$TALLY_ROOT"

DURATION=${1:-15}
PORT=${TALLY_BENCH_PGPORT:-54318}
GW_PORT=${TALLY_BENCH_GWPORT:-54319}
DIR="$TALLY_STATE/bench-ingest"
DB=bench
URL="host=127.0.0.1 port=$PORT user=postgres dbname=$DB"
BASE="http://127.0.0.1:$GW_PORT"
CONNECTIONS=${TALLY_BENCH_CONNECTIONS:-64}
WORK=$(mktemp -d)
trap 'kill "${gw_pid:-}" 2>/dev/null || true; wait "${gw_pid:-}" 2>/dev/null || true; rm -rf "$WORK"' EXIT

bench_cluster
command -v wrk >/dev/null || { apt-get update -qq; apt-get install -y -qq --no-install-recommends wrk >/dev/null; }
bench_gateway_binary
bench_new_db
site=$(q -d "$DB" -c "SELECT tally.create_site('bench.local')")
key=$(q -d "$DB" -c "SELECT key FROM tally.create_ingest_key($site)")

bench_gateway_start

UA='Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36'
cat > "$WORK/batch.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $key"
wrk.headers["User-Agent"] = "$UA"
local events = {}
for i = 1, 100 do
  events[i] = '{"name":"pageview","url":"https://bench.local/page/' .. (i % 17) .. '?utm_source=bench","referrer":"https://www.google.com/","props":{"n":"' .. i .. '"}}'
end
wrk.body = "[" .. table.concat(events, ",") .. "]"
LUA
cat > "$WORK/single.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["User-Agent"] = "$UA"
wrk.body = '{"n":"pageview","u":"https://bench.local/pricing?utm_source=bench","d":"bench.local","r":"https://www.google.com/","w":1280}'
LUA

# CPU time (clock ticks) used so far by the gateway, and by the cluster: the postmaster,
# its exited children (cutime, cstime) and the live ones. Unlike throughput, CPU per event
# hardly depends on what else runs on the machine, so it compares builds fairly.
cpu_ticks() {
    local pid=$1; shift
    awk '{ split($0, a, ") "); split(a[2], f, " "); t += f[12] + f[13] + f[14] + f[15] } END { print t }' \
        "/proc/$pid/stat" $(pgrep -P "$pid" | sed 's|.*|/proc/&/stat|') 2>/dev/null
}
postmaster=$(head -1 "$DIR/postmaster.pid")

# wrk prints "Requests/sec: N" and, with --latency, "50% 1.23ms" ... "99% 4.56ms".
run() {
    local name=$1 path=$2 script=${3:-}
    log "$name: wrk -t2 -c$CONNECTIONS -d${DURATION}s $path"
    local gw0 pg0; gw0=$(cpu_ticks "$gw_pid"); pg0=$(cpu_ticks "$postmaster")
    # wrk shares the cores: its own CPU time (user and system seconds) is reported too.
    local TIMEFORMAT='%U %S'
    { time wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency ${script:+-s "$script"} "$BASE$path" > "$WORK/$name.out" 2>&1; } 2> "$WORK/$name.wrk"
    echo "$(( $(cpu_ticks "$gw_pid") - gw0 )) $(( $(cpu_ticks "$postmaster") - pg0 )) $(tail -1 "$WORK/$name.wrk")" > "$WORK/$name.cpu"
}
run baseline /tally.js
run batched /api/v1/events "$WORK/batch.lua"
run single /api/event "$WORK/single.lua"
stored=$(q -d "$DB" -c "SELECT count(*) FROM tally.events")

python3 - "$WORK" "$stored" "$DURATION" "$CONNECTIONS" "$(nproc)" "$(getconf CLK_TCK)" <<'PY'
import re, sys
work, stored, duration, conns, cores, tck = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6])
def parse(name):
    text = open(f"{work}/{name}.out").read()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    total = int(re.search(r"(\d+) requests in", text).group(1))
    def pct(p):
        m = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
        v, unit = float(m.group(1)), m.group(2)
        return v / 1000 if unit == "us" else v * 1000 if unit == "s" else v
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    errors = re.search(r"Socket errors: (.*)", text)
    gw, pg, wrk_user, wrk_sys = open(f"{work}/{name}.cpu").read().split()
    gw, pg, wrk = int(gw), int(pg), float(wrk_user) + float(wrk_sys)
    return dict(rps=rps, total=total, p50=pct(50), p99=pct(99), non2xx=int(non2xx.group(1)) if non2xx else 0,
                errors=errors.group(1) if errors else "none", gw_s=gw / tck, pg_s=pg / tck, wrk_s=wrk)
b, bat, one = parse("baseline"), parse("batched"), parse("single")
acked = (bat["total"] - bat["non2xx"]) * 100 + (one["total"] - one["non2xx"])
print(f"wrk -t2 -c{conns} -d{duration}s on 127.0.0.1, {cores} cores shared by wrk, the gateway and Postgres\n")
print("| run | requests/s | events/s | p50 | p99 | non-2xx | vs baseline req/s | target |")
print("|---|---|---|---|---|---|---|---|")
print(f"| baseline GET /tally.js | {b['rps']:,.0f} | - | {b['p50']:.2f} ms | {b['p99']:.2f} ms | {b['non2xx']} | 1.00 | - |")
print(f"| batched, 100 events/request | {bat['rps']:,.0f} | {bat['rps']*100:,.0f} | {bat['p50']:.2f} ms | {bat['p99']:.2f} ms | {bat['non2xx']} | {bat['rps']/b['rps']:.3f} | 300,000 events/s, p99 < 50 ms |")
print(f"| single event /api/event | {one['rps']:,.0f} | {one['rps']:,.0f} | {one['p50']:.2f} ms | {one['p99']:.2f} ms | {one['non2xx']} | {one['rps']/b['rps']:.3f} | 30,000 req/s, p99 < 50 ms |")
print(f"\nstored events: {stored:,}; acknowledged by wrk's count: {acked:,} (wrk may count a few requests cut off at the end)")
print("\nCPU time per event (wrk's completed requests), the measure least disturbed by other load;")
print("wrk's own share of the two cores beside it:\n")
print("| run | gateway CPU | Postgres CPU | wrk CPU | events |")
print("|---|---|---|---|---|")
for label, r, per in (("batched", bat, 100), ("single", one, 1)):
    n = r["total"] * per
    print(f"| {label} | {r['gw_s'] / n * 1e6:.1f} µs | {r['pg_s'] / n * 1e6:.1f} µs | {r['wrk_s'] / n * 1e6:.2f} µs | {n:,} |")
PY
