#!/usr/bin/env bash
# Manages a PostgreSQL 15 cluster of Tally's own: private data directory and port, run
# as the postgres OS user, pg_cron and tally preloaded, trust auth on loopback only.
#
#   pgcluster.sh ensure DIR PORT   create if missing, (re)start if needed; safe to repeat,
#                                  after a crash, and from several processes at once
#   pgcluster.sh stop DIR          fast shutdown if running
#   pgcluster.sh destroy DIR       stop and delete the data directory
source "$(dirname "$0")/lib.sh"

cmd=${1:-}; dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || die "usage: pgcluster.sh ensure DIR PORT | stop DIR | destroy DIR"

running() { [ -f "$dir/postmaster.pid" ] && as_postgres "$PG_BIN/pg_ctl" -D "$dir" status >/dev/null 2>&1; }

ensure() {
    local port=$1
    mkdir -p "$(dirname "$dir")"
    chmod 755 "$(dirname "$dir")"
    if [ ! -f "$dir/PG_VERSION" ]; then
        log "creating cluster in $dir (port $port)"
        rm -rf "$dir"; mkdir -p "$dir"; chown postgres:postgres "$dir"; chmod 700 "$dir"
        as_postgres "$PG_BIN/initdb" -D "$dir" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
        cat >> "$dir/postgresql.conf" <<CONF

# --- Tally (scripts/pgcluster.sh) ---
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
$(tally_postgresql_conf)
# Replication and point-in-time recovery work out of the box.
wal_level = replica
max_wal_senders = 10
logging_collector = off
log_min_messages = warning
fsync = on
CONF
        # Loopback only, for a development or test cluster.
        printf 'local all all trust\nhost all all 127.0.0.1/32 trust\nhost replication all 127.0.0.1/32 trust\n' > "$dir/pg_hba.conf"
    fi
    # A newer extension library than the running postmaster means a fresh install: the
    # preloaded copy is stale until a restart.
    local so; so="$("$PG_CONFIG" --pkglibdir)/tally.so"
    if running && [ -f "$so" ] && [ "$so" -nt "$dir/postmaster.pid" ]; then
        log "tally.so changed: restarting cluster in $dir"
        as_postgres "$PG_BIN/pg_ctl" -D "$dir" -m fast -w stop >/dev/null
    fi
    if ! running; then
        # pg_ctl copes with a stale postmaster.pid left by a crash or kill -9. The server must
        # not inherit the lock descriptor, or it would hold the lock for as long as it runs.
        as_postgres "$PG_BIN/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 start >/dev/null 9>&- \
            || { tail -20 "$dir/server.log" >&2; die "cluster in $dir did not start"; }
    fi
    prepare_tally_database "$dir" "$port"
}

case "$cmd" in
    ensure)
        port=${3:-}; [ -n "$port" ] || die "ensure needs a port"
        mkdir -p "$TALLY_STATE"
        # Serialise concurrent callers (parallel test processes) on one lock per cluster.
        exec 9>"$TALLY_STATE/.lock-$(basename "$dir")"
        flock 9
        ensure "$port"
        ;;
    stop)
        if running; then as_postgres "$PG_BIN/pg_ctl" -D "$dir" -m fast -w stop >/dev/null; fi
        ;;
    destroy)
        if running; then as_postgres "$PG_BIN/pg_ctl" -D "$dir" -m immediate -w stop >/dev/null; fi
        rm -rf "$dir"
        ;;
    *) die "unknown command $cmd" ;;
esac
