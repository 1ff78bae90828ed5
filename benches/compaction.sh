#!/usr/bin/env bash
# Live compaction benchmark: whether the background worker's passes keep up with
# ingest at RATE events/s. The issue's 300k events/s cannot be ingested and compacted
# at once on 2 cores (ingest alone takes ~5 µs of CPU an event), so each pass is
# timed alone: PASSES times, PASS_SECONDS of traffic at RATE events/s (RATE x
# PASS_SECONDS events, timestamped in the last PASS_SECONDS) go into the hot table,
# then `SELECT tally.compact(true)` (what the worker runs, current partition included)
# moves them into segments. The passes' events/s is the rate compaction sustains; the
# baseline is the COPY load of the same events through the gateway, in the same run.
#
# Rollups: a live pass computes none (its hours are not settled, see
# tally_core::rollup::settle); each site's hour settles once, 3 hours after it ends,
# reading 3.5 hours of its events. Measured on the hour holding the live passes
# (tally.rollups_recompute of it, rolled back: what its settling will do, on segments
# shaped by live traffic) and on the hour before it (whose window reads the passes'
# events to follow its visits): with the passes, the rate compaction sustains. Also
# the real settling of an hour of the history through tally.compact() (the settle
# point moved back an hour), where 20 sites' fixed costs show. Baselines: recomputing
# the hours a pass touched, as every pass did before hours settled once; the two
# hours settling one site after the other, as before the sites' hours were computed
# side by side on the compaction threads. (Run it away from the first minute of an
# hour, or the passes straddle two.)
#
#   benches/compaction.sh [RATE] [PASSES] [PASS_SECONDS] [HISTORY]   default 300000 8 2 2000000
#
# Runs in a cluster of its own ($TALLY_STATE/bench-compaction, port TALLY_BENCH_PORT,
# default 54319) and prints a markdown table for benches/RESULTS.md. Not part of
# ./dev test: it takes minutes.
source "$(dirname "$0")/lib.sh"
cd "$TALLY_ROOT"

RATE=${1:-300000}
PASSES=${2:-8}
SECS=${3:-2}
HISTORY=${4:-2000000}
PORT=${TALLY_BENCH_PORT:-54319}
DIR="$TALLY_STATE/bench-compaction"
DB=bench
URL="host=127.0.0.1 port=$PORT user=postgres dbname=$DB"
PER_PASS=$((RATE * SECS))
LIVE=$((PER_PASS * PASSES))

bench_cluster
cargo build --release -q -p tally-gateway
bench_new_db

now() { date +%s.%N; }
seed() {
    TALLY_DATABASE_URL="$URL" target/release/tally-gateway seed --sites 20 --days 1 --events "$1" --seed "$2" \
        --domain bench.local >/dev/null
}

log "loading the live stream ($LIVE events) through the gateway's COPY path, then staging it"
t0=$(now)
seed "$LIVE" 7
t1=$(now)
q -d "$DB" -c "CREATE UNLOGGED TABLE stage AS
                   SELECT *, (row_number() OVER (ORDER BY ts) - 1) / $PER_PASS AS pass FROM tally.events_hot" \
  -c "CREATE INDEX ON stage (pass)" -c "TRUNCATE tally.events_hot" -c "VACUUM ANALYZE stage"

log "loading and compacting the history ($HISTORY events of the last day, 20 sites)"
seed "$HISTORY" 42
q -d "$DB" -c "SELECT tally.compact(true)" >/dev/null
q -d "$DB" -c "VACUUM ANALYZE"

columns=$(q -d "$DB" -c "SELECT string_agg(quote_ident(column_name), ', ' ORDER BY ordinal_position)
                         FROM information_schema.columns
                         WHERE table_schema = 'tally' AND table_name = 'events_hot' AND column_name NOT IN ('ts', 'gen')")
pass_times=()
moved=0
for pass in $(seq 0 $((PASSES - 1))); do
    # The pass's events keep their order and spacing, squeezed into the last SECS seconds.
    q -d "$DB" -c "INSERT INTO tally.events_hot ($columns, ts)
                   SELECT $columns, now() - interval '$SECS seconds'
                          + (ts - lo) * ($SECS / greatest(extract(epoch FROM hi - lo), 1e-6))
                   FROM stage, (SELECT min(ts) lo, max(ts) hi FROM stage WHERE pass = $pass) b
                   WHERE pass = $pass"
    a=$(now)
    n=$(q -d "$DB" -c "SELECT tally.compact(true)")
    b=$(now)
    moved=$((moved + n))
    pass_times+=("$(python3 -c "print($b - $a)")")
done
[ "$moved" = "$LIVE" ] || die "the passes compacted $moved of $LIVE events"
hot=$(q -d "$DB" -c "SELECT count(*) FROM tally.events_hot")
[ "$hot" = 0 ] || die "$hot events stayed hot"
unsettled=$(q -d "$DB" -c "SELECT count(*) FROM tally.rollups r JOIN tally.rollups_settled s USING (site_id)
                           WHERE r.hour >= s.settled_until")

log "baseline: the rollup hours a pass recomputed before they settled (rolled back)"
# What every pass did before: recompute each touched site's hours from 3 hours before
# its events to 30 minutes after, reading those hours' events again (here the live
# passes' and the history's; at a steady 300k events/s, about 4 billion), one site
# after the other.
a=$(now)
q -d "$DB" -c "BEGIN" -c "SELECT sum(tally.rollups_recompute(ARRAY[site_id], now() - interval '3 hours $SECS seconds',
                                                              now() + interval '30 minutes')) FROM tally.sites" \
  -c "ROLLBACK" >/dev/null
b=$(now)
recompute_t=$(python3 -c "print($b - $a)")

log "the live passes' hour settling, and the hour before it (rolled back)"
# The rows of the hour holding the passes, as its settling will compute them, from
# segments shaped by live traffic; then those of the hour before, whose window reads
# the passes' events only to follow its visits (every event is read so by the hours
# whose windows' 2.5 extra hours hold it). The history adds a little to both. The
# sites are computed side by side on the compaction threads, as settling does.
# $1: hours back from the current one; $2: "apart" computes the sites one after the
# other (a call per site, as settling did before it used the compaction threads).
settle_hour() {
    local hour="date_bin('1 hour', now(), '2000-01-01') - interval '$1 hours'"
    local call="tally.rollups_recompute(array_agg(site_id), $hour, $hour + interval '1 hour')"
    if [ "${2:-}" = apart ]; then
        call="sum(tally.rollups_recompute(ARRAY[site_id], $hour, $hour + interval '1 hour'))"
    fi
    q -d "$DB" -c "BEGIN" -c "SELECT $call FROM tally.sites" -c "ROLLBACK" >/dev/null
}
a=$(now); settle_hour 0; b=$(now); settle_hour 1; c=$(now)
own_t=$(python3 -c "print($b - $a)")
window_t=$(python3 -c "print($c - $b)")
a=$(now); settle_hour 0 apart; b=$(now); settle_hour 1 apart; c=$(now)
own_apart_t=$(python3 -c "print($b - $a)")
window_apart_t=$(python3 -c "print($c - $b)")

log "one hour settling on every site (the settle point moved back an hour)"
q -d "$DB" -c "UPDATE tally.rollups_settled SET settled_until = settled_until - interval '1 hour'"
a=$(now)
q -d "$DB" -c "SELECT tally.compact()" >/dev/null
b=$(now)
settle_t=$(python3 -c "print($b - $a)")
# The hour's events but `engagement` ones (the rows' own count; tally.events would
# decode the whole days around it into SQL arrays): fewer than it read, so the rate
# below errs low.
hour_events=$(q -d "$DB" -c "SELECT sum(r.events) FROM tally.rollups r JOIN tally.rollups_settled s USING (site_id)
                             WHERE r.dimension = 'total' AND r.hour = s.settled_until - interval '1 hour'")

python3 - "$LIVE" "$PASSES" "$PER_PASS" "$RATE" "$t0" "$t1" "$unsettled" "$settle_t" "$hour_events" "$recompute_t" \
    "$own_t" "$window_t" "$own_apart_t" "$window_apart_t" "${pass_times[@]}" <<'PY'
import sys
live, passes, per_pass, rate = map(int, sys.argv[1:5])
t0, t1 = map(float, sys.argv[5:7])
unsettled = int(sys.argv[7])
settle_t, hour_events, recompute_t = float(sys.argv[8]), int(sys.argv[9]), float(sys.argv[10])
own_t, window_t, own_apart_t, window_apart_t = map(float, sys.argv[11:15])
times = [float(t) for t in sys.argv[15:]]
total = sum(times)
pass_rate = live / total
load_rate = live / (t1 - t0)
# Per event of traffic, rollups cost its own hour's settling, plus being read 2.5 more
# times by the settlings of the hours around it (the hour before's time per event
# stands for each: it errs high, that hour's history being read too).
def sustained(own, window):
    return 1 / (1 / pass_rate + (own + 2.5 * window) / live)
print("| measure | value |")
print("|---|---|")
print(f"| live passes | {passes} x {per_pass:,} events ({rate:,} events/s x {per_pass // rate} s), 20 sites |")
print(f"| pass times (s) | {', '.join(f'{t:.2f}' for t in times)} |")
print(f"| compaction of live passes, one backend | **{pass_rate:,.0f} events/s** ({total:.1f} s) |")
print(f"| load of the same events through the gateway's COPY path (baseline, 1 client) | {load_rate:,.0f} events/s |")
print(f"| compaction rate / load rate | {pass_rate / load_rate:.2f} |")
print(f"| rollup rows of unsettled hours after the passes | {unsettled} |")
print(f"| baseline: recomputing the hours the last pass touched, as every pass did before | {recompute_t:.2f} s ({recompute_t / (total / passes):.1f}x a pass) |")
print(f"| one hour settling on 20 sites ({hour_events:,} events of the hour, 3.5 hours read) | {settle_t:.2f} s ({hour_events / settle_t:,.0f} events of the hour/s) |")
print(f"| the live passes' hour settling (their {live:,} events and the history's of the hour) | {own_t:.2f} s ({live / own_t:,.0f} events/s) |")
print(f"| the hour before settling (the passes' events read to follow its visits) | {window_t:.2f} s ({live / window_t:,.0f} events/s) |")
print(f"| the same two hours settling one site after the other (baseline) | {own_apart_t:.2f} s, {window_apart_t:.2f} s |")
print(f"| sustained: passes, each event's hour settling, and 2.5 hours of windows reading it | **{sustained(own_t, window_t):,.0f} events/s** |")
print(f"| sustained with the sites settling one after the other (baseline) | {sustained(own_apart_t, window_apart_t):,.0f} events/s |")
PY
