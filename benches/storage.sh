#!/usr/bin/env bash
# Storage benchmark: bytes per event and compaction rate on generated traffic shaped
# like real sites (20 Zipf-sized sites, Zipf pages and sources, multi-page visits,
# daily and weekly cycles), against the same events as plain heap rows.
#
#   benches/storage.sh [EVENTS]        default 10000000
#
# Runs in a cluster of its own ($TALLY_STATE/bench, port TALLY_BENCH_PORT, default
# 54317) and prints a
# markdown table for benches/RESULTS.md. Not part of ./dev test: it takes minutes.
source "$(dirname "$0")/lib.sh"
cd "$TALLY_ROOT"

EVENTS=${1:-10000000}
PORT=${TALLY_BENCH_PORT:-54317}
DIR="$TALLY_STATE/bench"
DB=bench
URL="host=127.0.0.1 port=$PORT user=postgres dbname=$DB"

bench_cluster
cargo build --release -q -p tally-gateway
bench_new_db
# The background worker compacts database `tally`, not this one: the compaction below
# is the only one, and is timed alone.

now() { date +%s.%N; }
log "loading $EVENTS events through the gateway's COPY path"
t0=$(now)
TALLY_DATABASE_URL="$URL" target/release/tally-gateway seed --sites 20 --days 30 --events "$EVENTS" --domain bench.local >/dev/null
t1=$(now)
q -d "$DB" -c "VACUUM ANALYZE tally.events_hot"
partitions="FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'tally.events_hot'::regclass"
heap_total=$(q -d "$DB" -c "SELECT sum(pg_total_relation_size(c.oid)) $partitions")
heap_only=$(q -d "$DB" -c "SELECT sum(pg_relation_size(c.oid)) $partitions")
check="SELECT count(*) || '/' || sum(visitor_id % 1000) || '/' || count(DISTINCT pathname) FROM tally.events"
before=$(q -d "$DB" -c "$check")

log "compacting with one encoding thread (rolled back: the baseline)"
t_one=$(now)
q -d "$DB" -c "BEGIN" -c "SET LOCAL tally.compaction_threads = 1" -c "SELECT tally.compact()" -c "ROLLBACK" >/dev/null
t_one_end=$(now)
log "compacting with the default encoding threads"
t2=$(now)
moved=$(q -d "$DB" -c "SELECT tally.compact()")
t3=$(now)
threads=$(q -d "$DB" -c "SHOW tally.compaction_threads")
q -d "$DB" -c "VACUUM ANALYZE tally.segments"
seg_total=$(q -d "$DB" -c "SELECT pg_total_relation_size('tally.segments')")
seg_data=$(q -d "$DB" -c "SELECT sum(length(data)) FROM tally.segments")
# Merges leave free space behind (reused by later segments, returned only by a rewrite).
q -d "$DB" -c "VACUUM FULL tally.segments"
seg_packed=$(q -d "$DB" -c "SELECT pg_total_relation_size('tally.segments')")
segments=$(q -d "$DB" -c "SELECT count(*) || ' segments, ' || round(avg(row_count)) || ' rows each on average' FROM tally.segments")
after=$(q -d "$DB" -c "$check")
[ "$before" = "$after" ] || die "events differ after compaction: $before vs $after"
[ "$moved" = "$EVENTS" ] || die "compacted $moved of $EVENTS events"

python3 - "$EVENTS" "$t0" "$t1" "$t2" "$t3" "$heap_total" "$heap_only" "$seg_total" "$seg_data" "$seg_packed" "$segments" "$t_one" "$t_one_end" "$threads" <<'PY'
import sys
n, t0, t1, t2, t3 = int(sys.argv[1]), *map(float, sys.argv[2:6])
heap_total, heap_only, seg_total, seg_data, seg_packed = map(int, sys.argv[6:11])
segments = sys.argv[11]
t_one, t_one_end, threads = float(sys.argv[12]), float(sys.argv[13]), sys.argv[14]
print("| measure | value |")
print("|---|---|")
print(f"| events | {n:,} (20 sites, 30 days; {segments}) |")
print(f"| heap, bytes/event (table + (site_id, ts) index) | {heap_total / n:.1f} |")
print(f"| heap, bytes/event (table only) | {heap_only / n:.1f} |")
print(f"| segments, bytes/event (table + TOAST + indexes, right after compaction) | {seg_total / n:.2f} |")
print(f"| segments, bytes/event (table + TOAST + indexes, after VACUUM FULL) | {seg_packed / n:.2f} |")
print(f"| segments, bytes/event (segment bytes only) | {seg_data / n:.2f} |")
print(f"| size ratio, heap with index / packed segments | {heap_total / seg_packed:.1f}x |")
print(f"| load through binary COPY (1 client) | {n / (t1 - t0):,.0f} events/s |")
print(f"| compaction, one backend, 1 encoding thread (baseline) | {n / (t_one_end - t_one):,.0f} events/s ({t_one_end - t_one:.1f} s) |")
print(f"| compaction, one backend, {threads} encoding threads | {n / (t3 - t2):,.0f} events/s ({t3 - t2:.1f} s) |")
print(f"| speed-up of the threads | {(t_one_end - t_one) / (t3 - t2):.2f}x |")
print(f"| compaction rate / load rate | {(t1 - t0) / (t3 - t2):.2f} |")
PY
