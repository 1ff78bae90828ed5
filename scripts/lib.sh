# Shared settings and helpers for Tally's scripts. Sourced, not run.
# shellcheck shell=bash

set -euo pipefail

TALLY_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export TALLY_ROOT
# Debian's own pg_config; /usr/bin/pg_config is a wrapper that pgrx cannot use.
PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config
PG_BIN=/usr/lib/postgresql/15/bin
export PG_CONFIG PG_BIN
# Clusters live outside the checkout: the postgres OS user must be able to reach them,
# and a clone under /root is not traversable by it.
TALLY_STATE=${TALLY_STATE:-/var/lib/tally}
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
