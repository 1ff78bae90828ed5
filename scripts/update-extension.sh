#!/usr/bin/env bash
# Brings the tally extension of one database to the version installed on the server
# (tally.control's default_version), keeping every row: CREATE EXTENSION where there is
# none, ALTER EXTENSION tally UPDATE where an earlier release is. A version this build
# has no upgrade path from (a later release, or an unknown one) is refused, saying which
# versions it upgrades from, and nothing is changed. ./dev runs it; so can operators.
#
#   update-extension.sh CONNINFO     CONNINFO: libpq connection string of the database
source "$(dirname "$0")/lib.sh"

[ $# -eq 1 ] || { sed -n '8p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
conn=$1
# psql reading SQL from stdin, so that :'var' quotes the -v values given.
q() { local sql=$1; shift; "$PG_BIN/psql" -X -q -tA -v ON_ERROR_STOP=1 -d "$conn" "$@" <<<"$sql"; }

target=$(q "SELECT default_version FROM pg_available_extensions WHERE name = 'tally'")
[ -n "$target" ] || die "the server has no tally extension files: run scripts/install-extension.sh first"
current=$(q "SELECT extversion FROM pg_extension WHERE extname = 'tally'")
if [ -z "$current" ]; then
    q "CREATE EXTENSION tally CASCADE"
    log "created extension tally $target"
    exit 0
fi
[ "$current" = "$target" ] && exit 0
path=$(q "SELECT path FROM pg_extension_update_paths('tally') WHERE source = :'from' AND target = :'to'" \
        -v from="$current" -v to="$target")
if [ -z "$path" ]; then
    known=$(q "SELECT string_agg(source, ', ' ORDER BY source) FROM pg_extension_update_paths('tally')
               WHERE target = :'to' AND path IS NOT NULL" -v to="$target")
    die "the database has extension tally $current, and this build ($target) has no upgrade path from it" \
        "(it upgrades from: ${known:-no earlier release}). Nothing was changed. Install the build of" \
        "release $current, or one whose extension/sql/ has an upgrade script from $current."
fi
q "ALTER EXTENSION tally UPDATE TO :'to'" -v to="$target"
log "updated extension tally $current -> $target (through $path)"
