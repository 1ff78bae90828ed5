#!/usr/bin/env bash
# Physical backups of a Tally cluster with pgBackRest: WAL archiving, full and
# incremental backups, and point-in-time restores into a new cluster. Runs pgbackrest as
# the postgres OS user, with one configuration file per cluster (the stanza is the data
# directory's name) and the repository in $TALLY_BACKREST_HOME ($TALLY_STATE/pgbackrest).
# docs/backup.md has the production setup.
#
#   pgbackrest.sh setup DIR PORT                 archive WAL of the cluster in DIR, create its
#                                                stanza, check that archiving works (restarts
#                                                the cluster once, when archiving was off)
#   pgbackrest.sh backup DIR full|diff|incr      take a backup
#   pgbackrest.sh info DIR                       the backups and the archived WAL
#   pgbackrest.sh restore DIR NEW_DIR NEW_PORT [TIME]
#                                                restore the latest backup of DIR into a new
#                                                cluster NEW_DIR on NEW_PORT, replaying WAL up to
#                                                TIME (any PostgreSQL timestamptz, e.g.
#                                                '2025-05-01 12:00:00+00') or to the end of the
#                                                archive, and start it as a primary
#
# The development cluster: pgbackrest.sh setup "$TALLY_STATE/dev" 54315 (./dev up's port).
source "$(dirname "$0")/../lib.sh"

BACKREST_HOME=${TALLY_BACKREST_HOME:-$TALLY_STATE/pgbackrest}

usage() { sed -n '8,18p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

# The stanza and configuration file of the cluster in $1.
stanza_of() { basename "$1"; }
config_of() { echo "$BACKREST_HOME/$(stanza_of "$1").conf"; }

backrest() {
    local dir=$1; shift
    as_postgres pgbackrest --config="$(config_of "$dir")" --stanza="$(stanza_of "$dir")" "$@"
}

sql() {
    local dir=$1 port=$2; shift 2
    as_postgres "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir" -p "$port" -d postgres -tA "$@"
}

setup() {
    local dir=$1 port=$2 stanza conf
    stanza=$(stanza_of "$dir"); conf=$(config_of "$dir")
    [ -f "$dir/PG_VERSION" ] || die "no cluster in $dir (create it with scripts/pgcluster.sh ensure $dir $port)"
    command -v pgbackrest >/dev/null || die "pgbackrest is not installed: run scripts/setup-deps.sh"
    mkdir -p "$BACKREST_HOME"/{repo,log,lock}
    chown -R postgres:postgres "$BACKREST_HOME"
    chmod 750 "$BACKREST_HOME"
    # zst: fast to compress, small; the repository keeps two full backups and what
    # depends on them (incrementals and their WAL), expiring older ones after each backup.
    as_postgres tee "$conf" >/dev/null <<CONF
[global]
repo1-path=$BACKREST_HOME/repo
repo1-retention-full=2
compress-type=zst
log-path=$BACKREST_HOME/log
lock-path=$BACKREST_HOME/lock
log-level-console=warn
# A checkpoint at once rather than spread: backups start without waiting minutes.
start-fast=y

[$stanza]
pg1-path=$dir
pg1-port=$port
pg1-socket-path=$dir
CONF
    local command="pgbackrest --config=$conf --stanza=$stanza archive-push %p"
    # archive_timeout: a quiet cluster still archives its last commits within a minute,
    # so a restore can reach them even if this machine is lost.
    sql "$dir" "$port" -c "ALTER SYSTEM SET archive_command = '$command'" -c "ALTER SYSTEM SET archive_timeout = '60s'" \
        -c "SELECT pg_reload_conf()" >/dev/null
    if [ "$(sql "$dir" "$port" -c "SHOW archive_mode")" != on ]; then
        log "archiving WAL of $dir to $BACKREST_HOME/repo (restarts the cluster)"
        sql "$dir" "$port" -c "ALTER SYSTEM SET archive_mode = on"
        as_postgres "$PG_BIN/pg_ctl" -D "$dir" -m fast -w restart -l "$dir/server.log" >/dev/null
    fi
    backrest "$dir" stanza-create >/dev/null
    # Forces a WAL switch and waits until that segment is in the repository.
    backrest "$dir" check
    log "stanza $stanza ready: scripts/backup/pgbackrest.sh backup $dir full"
}

restore() {
    local dir=$1 new_dir=$2 new_port=$3 target=${4:-}
    [ -f "$(config_of "$dir")" ] || die "no pgBackRest stanza for $dir: run scripts/backup/pgbackrest.sh setup first"
    [ ! -e "$new_dir/PG_VERSION" ] || die "$new_dir already holds a cluster: restore into a new directory"
    local info; info=$(backrest "$dir" info --output=json)
    local first_stop; first_stop=$(jq -r '[.[0].backup[].timestamp.stop] | min // empty' <<<"$info")
    [ -n "$first_stop" ] || die "stanza $(stanza_of "$dir") has no backup yet: run scripts/backup/pgbackrest.sh backup $dir full"
    local target_args=()
    if [ -n "$target" ]; then
        # Checked here, before copying anything: a time before every backup ended cannot be
        # reached (the backup is not consistent until its end) and a future time has no WAL.
        local at
        at=$(date -u -d "$target" +%s 2>/dev/null) || die "cannot read the time '$target' (e.g. '2025-05-01 12:00:00+00')"
        [ "$at" -ge "$first_stop" ] \
            || die "no backup ends before $target: the earliest time to restore to is $(date -u -d "@$first_stop" '+%F %T+00')"
        [ "$at" -le "$(date +%s)" ] || die "$target is in the future: no WAL reaches it yet"
        target_args=(--type=time "--target=$target" --target-action=promote)
    fi
    mkdir -p "$new_dir"; chown postgres:postgres "$new_dir"; chmod 700 "$new_dir"
    log "restoring $(stanza_of "$dir") into $new_dir${target:+ to $target}"
    # --archive-mode=off: the copy must not push its WAL into the original's archive.
    backrest "$dir" restore --pg1-path="$new_dir" --archive-mode=off "${target_args[@]}"
    # The restored configuration is the original's: give the copy its own port and socket.
    as_postgres tee -a "$new_dir/postgresql.auto.conf" >/dev/null <<CONF
port = $new_port
unix_socket_directories = '$new_dir'
CONF
    rm -f "$new_dir/postmaster.pid" "$new_dir/server.log"
    as_postgres "$PG_BIN/pg_ctl" -D "$new_dir" -l "$new_dir/server.log" -w -t 300 start >/dev/null 2>&1 || true
    # The server takes connections once consistent, while it still replays WAL up to the
    # target: done when it has promoted, failed when the postmaster has exited.
    local deadline=$((SECONDS + 600))
    until [ "$(sql "$new_dir" "$new_port" -c "SELECT pg_is_in_recovery()" 2>/dev/null)" = f ]; do
        if ! as_postgres "$PG_BIN/pg_ctl" -D "$new_dir" status >/dev/null 2>&1; then
            if grep -q "recovery ended before configured recovery target was reached" "$new_dir/server.log"; then
                rm -rf "$new_dir"
                die "no archived WAL reaches $target: the archive ends before that time (WAL is archived" \
                    "when a segment fills or archive_timeout passes), so the restore stopped short and" \
                    "$new_dir was removed. Restore to an earlier time, or without a time for the latest" \
                    "archived state (pgbackrest.sh info $dir shows the archive)"
            fi
            tail -20 "$new_dir/server.log" >&2
            die "the restored cluster in $new_dir did not start"
        fi
        [ "$SECONDS" -lt "$deadline" ] || die "the restored cluster in $new_dir is still replaying WAL after 10 minutes"
        sleep 0.2
    done
    log "restored cluster running: psql -h 127.0.0.1 -p $new_port -U postgres tally"
}

cmd=${1:-}; dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || usage
dir=$(realpath -m "$dir")
case "$cmd" in
    setup) [ -n "${3:-}" ] || usage; setup "$dir" "$3" ;;
    backup)
        case "${3:-}" in full|diff|incr) ;; *) usage ;; esac
        backrest "$dir" backup --type="$3"
        ;;
    info) backrest "$dir" info ;;
    restore) [ -n "${4:-}" ] || usage; restore "$dir" "$(realpath -m "$3")" "$4" "${5:-}" ;;
    *) usage ;;
esac
