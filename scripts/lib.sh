# Shared settings and helpers for Tally's scripts. Sourced, not run.
# shellcheck shell=bash

set -euo pipefail

TALLY_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export TALLY_ROOT
# Debian's own pg_config; /usr/bin/pg_config is a wrapper that pgrx cannot use.
SYSTEM_PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config
# TALLY_PG_CONFIG points the extension install and the clusters at another copy of the
# same PostgreSQL 15 (a relocated copy of Debian's tree), so several work trees can
# build, install and test different versions of the extension side by side.
PG_CONFIG=${TALLY_PG_CONFIG:-$SYSTEM_PG_CONFIG}
PG_BIN=$(dirname "$PG_CONFIG")
export SYSTEM_PG_CONFIG PG_CONFIG PG_BIN
# Clusters live outside the checkout: the postgres OS user must be able to reach them,
# and a clone under /root is not traversable by it.
TALLY_STATE=${TALLY_STATE:-/var/lib/tally}
export TALLY_STATE
export DEBIAN_FRONTEND=noninteractive
# cargo installed by rustup may not be on PATH in a non-login shell.
[ -d "$HOME/.cargo/bin" ] && PATH="$HOME/.cargo/bin:$PATH"
export PATH

log() { printf '\033[1;34m[tally]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31m[tally] error:\033[0m %s\n' "$*" >&2; exit 1; }

# Runs a command as the postgres OS user (initdb and postgres refuse root).
as_postgres() {
    if [ "$(id -un)" = postgres ]; then "$@"; else runuser -u postgres -- "$@"; fi
}

# `npm ci` in directory $1 when its package-lock.json changed since the last install
# (a stamp in node_modules), so a second run costs one sha256sum.
npm_ci_if_changed() {
    local dir=$1 lock_sha
    lock_sha=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
    if [ "$(cat "$dir/node_modules/.tally-lock-sha" 2>/dev/null)" != "$lock_sha" ]; then
        log "installing npm packages in ${dir#"$TALLY_ROOT"/}"
        (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
        echo "$lock_sha" > "$dir/node_modules/.tally-lock-sha"
    fi
}
