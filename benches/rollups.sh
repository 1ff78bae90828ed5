#!/usr/bin/env bash
# Rollups benchmark: "unique visitors of one site over 30 days" answered from the
# hourly rollups (a union of 720 HLL sketches) versus from the raw events (hashing
# every visitor id of the range), in the same cluster and run; plus the cost of
# keeping rollups current during compaction, and the rollup rows of 31 days computed by
# their SQL definition over tally.events (tests/sql/rollups_reference.sql, how
# rollups_recompute worked before it moved to Rust) as the baseline of rebuild_rollups.
#
#   benches/rollups.sh [EVENTS]        default 2000000
#
# Runs in a cluster of its own ($TALLY_STATE/bench-rollups, port TALLY_BENCH_PORT,
# default 54318) and prints a markdown table for benches/RESULTS.md. Not part of
# ./dev test: it takes minutes.
source "$(dirname "$0")/lib.sh"
cd "$TALLY_ROOT"

EVENTS=${1:-2000000}
PORT=${TALLY_BENCH_PORT:-54318}
DIR="$TALLY_STATE/bench-rollups"
DB=bench
URL="host=127.0.0.1 port=$PORT user=postgres dbname=$DB"
RUNS=5

bench_cluster
cargo build --release -q -p tally-gateway
bench_new_db

now() { date +%s.%N; }
log "loading $EVENTS events (one site, 30 days)"
TALLY_DATABASE_URL="$URL" target/release/tally-gateway seed --sites 1 --days 30 --events "$EVENTS" --domain bench.local >/dev/null
log "compacting (segments and rollups)"
t0=$(now)
q -d "$DB" -c "SELECT tally.compact()" >/dev/null
t1=$(now)
q -d "$DB" -c "VACUUM ANALYZE"
site=$(q -d "$DB" -c "SELECT site_id FROM tally.sites WHERE domain = 'bench.local'")
bounds=$(q -d "$DB" -c "SELECT max(max_ts) FROM tally.segments WHERE site_id = $site")
from="timestamptz '$bounds' - interval '30 days'"
to="timestamptz '$bounds' + interval '1 second'"
# The rollups' sketch parameters (tally_core::rollup::VISITOR_PARAMS: 2^14 registers).
RAW="SELECT tally.hll_cardinality(tally.hll_add_agg(tally.hll_hash_bigint(visitor_id), 14)) FROM tally.events($site, $from, $to)"
EXACT="SELECT count(DISTINCT visitor_id) FROM tally.events($site, $from, $to)"
ROLLUP="SELECT tally.hll_cardinality(tally.hll_union_agg(visitors)) FROM tally.rollups
        WHERE site_id = $site AND dimension = 'total' AND hour >= date_bin('1 hour', $from, '2000-01-01 00:00+00') AND hour < $to"

# Median wall time of RUNS runs of a query, in seconds.
timed() {
    local times=()
    for _ in $(seq "$RUNS"); do
        local a b; a=$(now); q -d "$DB" -c "$1" >/dev/null; b=$(now)
        times+=("$(python3 -c "print($b - $a)")")
    done
    printf '%s\n' "${times[@]}" | sort -n | sed -n "$(( (RUNS + 1) / 2 ))p"
}
raw_t=$(timed "$RAW"); rollup_t=$(timed "$ROLLUP")
raw_v=$(q -d "$DB" -c "$RAW"); rollup_v=$(q -d "$DB" -c "$ROLLUP"); exact_v=$(q -d "$DB" -c "$EXACT")
rows=$(q -d "$DB" -c "SELECT count(*) FROM tally.rollups WHERE site_id = $site AND dimension = 'total'")
all_rows=$(q -d "$DB" -c "SELECT count(*) FROM tally.rollups")
rollup_bytes=$(q -d "$DB" -c "SELECT pg_total_relation_size('tally.rollups')")
t2=$(now)
q -d "$DB" -c "SELECT tally.rebuild_rollups($site, $from - interval '1 day', $to)" >/dev/null
t3=$(now)
log "the same rows by their SQL definition (baseline)"
q -d "$DB" -c "PREPARE reference(int, timestamptz, timestamptz) AS $(cat tests/sql/rollups_reference.sql)" \
  -c "CREATE TEMP TABLE reference AS EXECUTE reference($site, $from - interval '1 day', $to)" \
  -c "SELECT count(*) FROM reference" >/dev/null
t4=$(now)

python3 - "$EVENTS" "$t0" "$t1" "$t2" "$t3" "$t4" "$raw_t" "$rollup_t" "$raw_v" "$rollup_v" "$exact_v" "$rows" "$all_rows" "$rollup_bytes" <<'PY'
import sys
n = int(sys.argv[1]); t0, t1, t2, t3, t4, raw_t, rollup_t = map(float, sys.argv[2:9])
raw_v, rollup_v, exact_v = float(sys.argv[9]), float(sys.argv[10]), int(sys.argv[11])
rows, all_rows, rollup_bytes = int(sys.argv[12]), int(sys.argv[13]), int(sys.argv[14])
print("| measure | value |")
print("|---|---|")
print(f"| events | {n:,} (1 site, 30 days) |")
print(f"| unique visitors, exact (count DISTINCT) | {exact_v:,} |")
print(f"| unique visitors, HLL over raw events | {raw_v:,.1f} ({(raw_v - exact_v) / exact_v * 100:+.2f}%) |")
print(f"| unique visitors, HLL union of {rows} hourly rollups | {rollup_v:,.1f} (identical: {raw_v == rollup_v}) |")
print(f"| 30-day question from raw events (median of 5) | {raw_t * 1000:,.1f} ms |")
print(f"| 30-day question from rollups (median of 5) | {rollup_t * 1000:,.1f} ms |")
print(f"| speed-up | **{raw_t / rollup_t:,.0f}x** |")
print(f"| rollup rows (all dimensions) / size | {all_rows:,} / {rollup_bytes / 2**20:.1f} MiB |")
print(f"| compaction incl. rollups, one backend | {n / (t1 - t0):,.0f} events/s ({t1 - t0:.1f} s) |")
print(f"| rebuild_rollups of 31 days | {t3 - t2:.1f} s ({n / (t3 - t2):,.0f} events/s) |")
print(f"| the same rows by their SQL definition (baseline, not written) | {t4 - t3:.1f} s |")
print(f"| speed-up of rebuild_rollups over the SQL definition | **{(t4 - t3) / (t3 - t2):.1f}x** |")
PY
