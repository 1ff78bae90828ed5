#!/usr/bin/env bash
# Automatic failover for Tally with pg_auto_failover (Debian's postgresql-15-auto-failover
# and pg-auto-failover-cli): a monitor and two Tally nodes on this machine, each with its
# own port and data directory under BASE, run by `pg_autoctl run` as the postgres OS user.
# Commits are synchronous: an acknowledged event is on both nodes while both are up.
# docs/ha.md has the production layout (one node per machine).
#
#   pgautofailover.sh create BASE MONITOR_PORT PORT1 PORT2
#                                     monitor, node1 (primary) and node2 (secondary), running,
#                                     with database tally and its alert job
#   pgautofailover.sh start BASE NAME start monitor, node1 or node2 (pg_autoctl run, in the
#                                     background; log in BASE/NAME.log); a node that was
#                                     primary and lost its place rejoins as secondary
#   pgautofailover.sh stop BASE [NAME]   stop one, or all (fast shutdown)
#   pgautofailover.sh kill BASE NAME  kill -9 a node's pg_autoctl and Postgres at once (what
#                                     losing its machine does), to drill a failover
#   pgautofailover.sh state BASE      the nodes and their roles, from the monitor
#   pgautofailover.sh url BASE        the gateway's TALLY_DATABASE_URL for the formation
#   pgautofailover.sh destroy BASE    stop everything and delete BASE
source "$(dirname "$0")/../lib.sh"

usage() { sed -n '8,21p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

cmd=${1:-}; base=${2:-}
[ -n "$cmd" ] && [ -n "$base" ] || usage
base=$(realpath -m "$base")

# pg_autoctl keeps its configuration, state and pid files under the XDG directories:
# BASE's own, so formations side by side do not mix.
AUTOCTL_ENV=(PG_CONFIG="$PG_CONFIG" XDG_CONFIG_HOME="$base/xdg/config" XDG_DATA_HOME="$base/xdg/data" XDG_RUNTIME_DIR="$base/xdg/run")
autoctl() { as_postgres env "${AUTOCTL_ENV[@]}" pg_autoctl "$@"; }

port_of() { sed -n "s/^$1=//p" "$base/ports"; }

monitor_uri() { echo "postgres://autoctl_node@127.0.0.1:$(port_of monitor)/pg_auto_failover?sslmode=disable"; }

running() { [ -f "$base/$1/postmaster.pid" ] && autoctl status --pgdata "$base/$1" >/dev/null 2>&1; }

# A node whose Postgres died while primary (kill -9, a lost machine) must finish crash
# recovery before pg_rewind can make it follow the new primary. pg_autoctl 2.0 runs that
# recovery with standby.signal already written, which single-user mode refuses, and then
# falls back to a full base backup behind a spread checkpoint (minutes); recovering in
# single-user mode first, as pg_rewind would, avoids both.
recover_crashed_primary() {
    local dir=$base/$1
    [ ! -f "$dir/standby.signal" ] || return 0
    LC_ALL=C as_postgres "$PG_BIN/pg_controldata" -D "$dir" | grep -q '^Database cluster state: *in production$' || return 0
    log "$1 stopped while primary: crash recovery in single-user mode first"
    as_postgres "$PG_BIN/postgres" --single -D "$dir" template1 </dev/null >>"$base/$1.log" 2>&1 \
        || { tail -20 "$base/$1.log" >&2; die "crash recovery of $1 failed"; }
}

start() {
    local name=$1
    [ -d "$base/$name" ] || die "no $name in $base"
    running "$name" && return 0
    [ "$name" = monitor ] || recover_crashed_primary "$name"
    # setsid: the node's processes form one process group, which `kill` ends at once.
    as_postgres setsid env "${AUTOCTL_ENV[@]}" pg_autoctl run --pgdata "$base/$name" >>"$base/$name.log" 2>&1 </dev/null &
    disown
    local deadline=$((SECONDS + 60))
    until as_postgres "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$(port_of "$name")"; do
        [ "$SECONDS" -lt "$deadline" ] || { tail -20 "$base/$name.log" >&2; die "$name did not start"; }
        sleep 0.2
    done
}

# Waits until the monitor reports node $1 in state $2 (as it assigned it).
wait_state() {
    local name=$1 state=$2 deadline=$((SECONDS + 120))
    until [ "$(as_postgres "$PG_BIN/psql" -X -tA -h 127.0.0.1 -p "$(port_of monitor)" -d pg_auto_failover -c \
              "SELECT reportedstate = goalstate AND reportedstate = '$state' FROM pgautofailover.node WHERE nodename = '$name'" 2>/dev/null)" = t ]; do
        [ "$SECONDS" -lt "$deadline" ] || { tail -20 "$base/$name.log" >&2; die "$name did not reach state $state"; }
        sleep 0.5
    done
}

create_node() {
    local name=$1
    autoctl create postgres --pgdata "$base/$name" --pgport "$(port_of "$name")" --listen 127.0.0.1 --hostname 127.0.0.1 \
        --name "$name" --no-ssl --skip-pg-hba --monitor "$(monitor_uri)" >>"$base/$name.log" 2>&1 \
        || { tail -20 "$base/$name.log" >&2; die "pg_autoctl create postgres failed for $name"; }
}

create() {
    local monitor_port=$1 port1=$2 port2=$3
    command -v pg_autoctl >/dev/null || die "pg_autoctl is not installed: run scripts/setup-deps.sh"
    # The members' sockets are in Debian's default directory, which lives on a tmpfs.
    [ -d /var/run/postgresql ] || install -d -m 2775 -o postgres -g postgres /var/run/postgresql
    [ ! -e "$base/ports" ] || die "$base already holds a formation (pgautofailover.sh destroy $base first)"
    mkdir -p "$base/xdg/run"
    printf 'monitor=%s\nnode1=%s\nnode2=%s\n' "$monitor_port" "$port1" "$port2" >"$base/ports"
    chown -R postgres:postgres "$base"; chmod 755 "$base"

    log "creating the monitor in $base/monitor (port $monitor_port)"
    autoctl create monitor --pgdata "$base/monitor" --pgport "$monitor_port" --hostname 127.0.0.1 --auth trust --no-ssl \
        >>"$base/monitor.log" 2>&1 || { tail -20 "$base/monitor.log" >&2; die "pg_autoctl create monitor failed"; }
    autoctl config set --pgdata "$base/monitor" postgresql.listen_addresses 127.0.0.1 >/dev/null
    # pg_autoctl sizes shared_buffers at a quarter of the machine's memory, for a member
    # alone on its machine; here three clusters share one.
    echo "shared_buffers = '128MB'" | as_postgres tee -a "$base/monitor/postgresql.conf" >/dev/null
    start monitor

    # node1 starts from a cluster of ours, so it has Tally's settings; node2 is a base
    # backup of it and inherits them. Loopback only, trusted, as every development cluster.
    log "creating node1 in $base/node1 (port $port1), the first primary"
    as_postgres mkdir -m 700 "$base/node1"
    as_postgres "$PG_BIN/initdb" -D "$base/node1" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
    {
        tally_postgresql_conf
        # pg_cron runs jobs in a background worker of the server it runs in, not over a
        # connection to the port the job was scheduled with: after a failover that port
        # is the old primary's.
        echo "cron.use_background_workers = on"
        echo "shared_buffers = '128MB'"
    } | as_postgres tee -a "$base/node1/postgresql.conf" >/dev/null
    printf 'local all all trust\nhost all all 127.0.0.1/32 trust\nhost replication all 127.0.0.1/32 trust\n' \
        | as_postgres tee "$base/node1/pg_hba.conf" >/dev/null
    create_node node1
    start node1
    wait_state node1 single
    prepare_tally_database 127.0.0.1 "$port1"
    # node2's base backup asks for a spread checkpoint (minutes at the default
    # checkpoint_completion_target); with the buffers written now it is done at once.
    as_postgres "$PG_BIN/psql" -X -q -h 127.0.0.1 -p "$port1" -d postgres -c CHECKPOINT

    log "creating node2 in $base/node2 (port $port2), a synchronous secondary"
    create_node node2
    start node2
    wait_state node1 primary
    wait_state node2 secondary
    log "formation ready: TALLY_DATABASE_URL='$(url)'"
}

url() { echo "host=127.0.0.1,127.0.0.1 port=$(port_of node1),$(port_of node2) user=postgres dbname=tally target_session_attrs=read-write"; }

stop() {
    local name
    for name in "$@"; do
        [ -d "$base/$name" ] && running "$name" && autoctl stop --pgdata "$base/$name" >/dev/null 2>&1
        # pg_autoctl stop returns before its processes are gone.
        local deadline=$((SECONDS + 30))
        while [ -f "$base/xdg/run/pg_autoctl$base/$name/pg_autoctl.pid" ] && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.2; done
    done
}

kill_node() {
    local name=$1 pid
    pid=$(head -1 "$base/xdg/run/pg_autoctl$base/$name/pg_autoctl.pid" 2>/dev/null) || die "$name is not running"
    # pg_autoctl leads the node's process group: its services and Postgres with its backends.
    kill -9 -- "-$pid"
}

case "$cmd" in
    create) [ $# -eq 5 ] || usage; create "$3" "$4" "$5" ;;
    start) [ $# -eq 3 ] || usage; start "$3" ;;
    stop) if [ $# -eq 3 ]; then stop "$3"; else stop node2 node1 monitor; fi ;;
    kill) [ $# -eq 3 ] || usage; kill_node "$3" ;;
    state) autoctl show state --pgdata "$base/monitor" ;;
    url) url ;;
    destroy)
        if [ -f "$base/ports" ]; then
            groups=$(awk 'FNR == 1' "$base"/xdg/run/pg_autoctl"$base"/*/pg_autoctl.pid 2>/dev/null || true)
            stop node2 node1 monitor
            # A member stopped in the middle of a transition can leave a service behind.
            for pid in $groups; do kill -9 -- "-$pid" 2>/dev/null || true; done
        fi
        rm -rf "$base"
        ;;
    *) usage ;;
esac
