#!/usr/bin/env bash
# Installs the real services the test suite starts by itself (tests/services.py):
#   PostgreSQL, Redis and Chromium from Debian 12 (apt), Azurite from npm
#   (./node_modules, pinned in package.json / package-lock.json).
#
# Idempotent: each step is skipped when what it installs is already there, so a
# second run costs about nothing. Works as root, or through sudo otherwise.
# Prints one line per step, with the seconds it took.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

log() { printf '[install-test-services] %s\n' "$*"; }
die() { printf '[install-test-services] ERROR: %s\n' "$*" >&2; exit 1; }

t_start=$SECONDS
step_start=$SECONDS
step_done() {
    log "$1 ($((SECONDS - step_start)) s)"
    step_start=$SECONDS
}

# --- Debian packages ------------------------------------------------------------
# Only what is missing: binary checked -> package installed.
missing=()
if ! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null \
    || ! compgen -G '/usr/lib/postgresql/*/bin/pg_ctl' >/dev/null; then
    missing+=(postgresql)
fi
if ! command -v redis-server >/dev/null 2>&1; then
    missing+=(redis-server)
fi
if [[ ! -x /usr/bin/chromium ]]; then
    missing+=(chromium)
fi
# Text in photos (Album): Tesseract with its Korean data (English comes with it).
if ! command -v tesseract >/dev/null 2>&1 || [[ ! -f /usr/share/tesseract-ocr/5/tessdata/kor.traineddata ]]; then
    missing+=(tesseract-ocr tesseract-ocr-kor)
fi

if ((${#missing[@]} == 0)); then
    step_done "apt: postgresql, redis-server, chromium, tesseract already installed, skipped"
else
    if [[ $EUID -eq 0 ]]; then
        SUDO=()
    elif command -v sudo >/dev/null 2>&1; then
        SUDO=(sudo)
    else
        die "need to install Debian packages (${missing[*]}) but not root and no sudo;" \
            "run as root: apt-get install -y --no-install-recommends ${missing[*]}"
    fi
    command -v apt-get >/dev/null 2>&1 \
        || die "apt-get not found: install ${missing[*]} with your system's package manager"

    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    step_done "apt-get update"
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends "${missing[@]}" >/dev/null
    step_done "apt-get install ${missing[*]}"
fi

# Checks after install: fail here, clearly, rather than in the tests.
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || die "initdb not found after install"
command -v redis-server >/dev/null 2>&1 || die "redis-server not found after install"
[[ -x /usr/bin/chromium ]] || die "/usr/bin/chromium not found after install"
command -v tesseract >/dev/null 2>&1 || die "tesseract not found after install"

# --- npm: Azurite (and the web UI's vendored packages) ---------------------------
command -v npm >/dev/null 2>&1 || die "npm not found (Node 20 is required)"
if [[ -x node_modules/.bin/azurite-blob ]] \
    && [[ -f node_modules/.package-lock.json ]] \
    && [[ ! package-lock.json -nt node_modules/.package-lock.json ]]; then
    step_done "npm: node_modules up to date (azurite-blob present), skipped"
else
    if [[ -f package-lock.json ]]; then
        npm ci --no-audit --no-fund --loglevel=error >/dev/null
        step_done "npm ci (azurite, htmx.org, pretendard, three)"
    else
        npm install --no-audit --no-fund --loglevel=error >/dev/null
        step_done "npm install (azurite, htmx.org, pretendard, three)"
    fi
    [[ -x node_modules/.bin/azurite-blob ]] || die "node_modules/.bin/azurite-blob missing after npm install"
fi

log "done in $((SECONDS - t_start)) s"
