#!/usr/bin/env bash
# The one set-up entry point of copyvault (`make setup` runs it). Idempotent: run it as often
# as you like; when nothing changed it finishes in a few seconds.
#
#   1. .venv (Python 3.11) with the pinned packages of requirements.lock, then the project itself
#      (editable, no dependencies) for the `copyvault` command;
#   2. node_modules from package-lock.json (`npm ci`);
#   3. the Solidity compiler: an executable `solc-v<version>` in .venv/solc-bin/ that runs the
#      npm `solc` package through toolchain/solc-native.js (these machines cannot download a
#      native solc), plus a .pth file so that every Python of the venv (ape, pytest) sets
#      SOLCX_BINARY_PATH to that folder; the version comes from package.json and must match
#      ape-config.yaml;
#   4. anvil: a symlink .venv/bin/anvil -> node_modules/.bin/anvil, so an activated venv (or
#      the Makefile, which puts .venv/bin on PATH) is all ape-foundry needs; the .pth file of
#      step 3 also appends .venv/bin to PATH when it is missing, so `.venv/bin/ape test` works;
#   5. the web app: web/node_modules from web/package-lock.json (`npm ci`), web/dist built when
#      its sources changed (`npm run build`: the API client generated from web/openapi.json,
#      type-checked, bundled), and Debian's chromium for its browser tests when missing.
#
# Expensive steps are skipped when a stamp holding the hash of their lock file matches.
# Everything this writes is git-ignored (.venv/, node_modules/, copyvault.egg-info/).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv"
SOLC_BIN_DIR="$VENV/solc-bin"

say() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }
sha256_of() { sha256sum "$1" | cut -d' ' -f1; }
# Quote a string for a POSIX sh script.
sh_quote() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"; }

for f in requirements.lock requirements.txt package.json package-lock.json ape-config.yaml \
    toolchain/solc-native.js; do
    [ -f "$f" ] || die "$ROOT/$f missing: run this script from its place in the repository"
done

# ---------------------------------------------------------------- 1. Python venv
venv_ok() {
    [ -x "$VENV/bin/python" ] &&
        "$VENV/bin/python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null
}
if ! venv_ok; then
    PYTHON=""
    for candidate in python3.11 python3; do
        if command -v "$candidate" >/dev/null &&
            "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
            PYTHON="$(command -v "$candidate")"
            break
        fi
    done
    [ -n "$PYTHON" ] || die "Python 3.11 not found (tried python3.11 and python3)"
    if [ -e "$VENV" ]; then
        say ".venv exists but is not a working Python 3.11 venv: recreating it"
    fi
    say "creating .venv with $PYTHON"
    "$PYTHON" -m venv --clear "$VENV"
fi

PY_STAMP="$VENV/.copyvault-requirements.sha256"
PY_HASH="$(sha256_of requirements.lock)"
if [ "$(cat "$PY_STAMP" 2>/dev/null)" != "$PY_HASH" ]; then
    say "installing Python packages from requirements.lock"
    "$VENV/bin/python" -m pip install --disable-pip-version-check --quiet -r requirements.lock
    "$VENV/bin/python" -m pip check --disable-pip-version-check >/dev/null ||
        die "pip check found broken requirements (run: .venv/bin/pip check)"
    # Every top-level pin of requirements.txt must be what the lock installed.
    "$VENV/bin/python" - <<'EOF' || die "requirements.txt and requirements.lock disagree"
import re
from importlib.metadata import version

bad = []
for line in open("requirements.txt"):
    line = line.split("#", 1)[0].strip()
    if not line:
        continue
    m = re.fullmatch(r"([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?==(\S+)", line)
    if not m:
        bad.append(f"not an exact pin: {line}")
    elif version(m[1]) != m[2]:
        bad.append(f"{m[1]}: requirements.txt pins {m[2]}, installed {version(m[1])}")
for b in bad:
    print(f"setup: error: {b}")
raise SystemExit(1 if bad else 0)
EOF
    # A plugin that fails to import makes ape drop commands silently; catch that here.
    APE_HELP="$("$VENV/bin/ape" --help)"
    for cmd in compile test; do
        grep -qE "^  $cmd " <<<"$APE_HELP" ||
            die "'ape --help' does not list '$cmd' (a plugin failed to load?)"
    done
    printf '%s\n' "$PY_HASH" >"$PY_STAMP"
else
    say "Python packages up to date (requirements.lock unchanged)"
fi

# ---------------------------------------------------------------- 1b. the project itself
# Editable and without dependencies (the lock installed them): puts the `copyvault` command in
# .venv/bin. pip builds it with the setuptools pinned in pyproject.toml's [build-system].
PROJECT_STAMP="$VENV/.copyvault-project.sha256"
PROJECT_HASH="$(sha256_of pyproject.toml)"
if [ "$(cat "$PROJECT_STAMP" 2>/dev/null)" != "$PROJECT_HASH" ] || [ ! -x "$VENV/bin/copyvault" ]; then
    say "installing the copyvault package (editable) and its command"
    "$VENV/bin/python" -m pip install --disable-pip-version-check --quiet --no-deps -e "$ROOT"
    "$VENV/bin/copyvault" --help >/dev/null || die "'copyvault --help' fails after installing the project"
    printf '%s\n' "$PROJECT_HASH" >"$PROJECT_STAMP"
else
    say "copyvault package up to date (pyproject.toml unchanged)"
fi

# ---------------------------------------------------------------- 2. npm packages
command -v node >/dev/null || die "node not found on PATH (Node 20 is needed)"
command -v npm >/dev/null || die "npm not found on PATH"
NODE="$(command -v node)"
NPM_STAMP="node_modules/.copyvault-package-lock.sha256"
NPM_HASH="$(sha256_of package-lock.json)"
if [ "$(cat "$NPM_STAMP" 2>/dev/null)" != "$NPM_HASH" ]; then
    say "installing npm packages from package-lock.json (npm ci)"
    npm ci --no-audit --no-fund --loglevel=error
    printf '%s\n' "$NPM_HASH" >"$NPM_STAMP"
else
    say "npm packages up to date (package-lock.json unchanged)"
fi

# ---------------------------------------------------------------- 3. Solidity compiler
# package.json pins the npm solc exactly; ape-config.yaml must name the same version.
SOLC_VERSION="$("$NODE" -p 'require("./package.json").dependencies.solc')"
[[ "$SOLC_VERSION" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] ||
    die "package.json must pin solc to an exact version, found '$SOLC_VERSION'"
INSTALLED_SOLC="$("$NODE" -p 'require("solc/package.json").version')"
[ "$INSTALLED_SOLC" = "$SOLC_VERSION" ] ||
    die "node_modules has solc $INSTALLED_SOLC but package.json pins $SOLC_VERSION (run npm install)"
APE_SOLC="$("$VENV/bin/python" -c '
import yaml
print((yaml.safe_load(open("ape-config.yaml")) or {}).get("solidity", {}).get("version", ""))')"
[ -z "$APE_SOLC" ] || [ "$APE_SOLC" = "$SOLC_VERSION" ] ||
    die "ape-config.yaml says solidity version $APE_SOLC, package.json pins solc $SOLC_VERSION"

mkdir -p "$SOLC_BIN_DIR"
SOLC_EXE="$SOLC_BIN_DIR/solc-v$SOLC_VERSION"
find "$SOLC_BIN_DIR" -maxdepth 1 -name 'solc-v*' ! -name "solc-v$SOLC_VERSION" -delete
cat >"$SOLC_EXE.tmp" <<EOF
#!/bin/sh
# Generated by toolchain/setup.sh; do not edit. solc $SOLC_VERSION from the npm package.
exec $(sh_quote "$NODE") $(sh_quote "$ROOT/toolchain/solc-native.js") "\$@"
EOF
chmod +x "$SOLC_EXE.tmp"
mv -f "$SOLC_EXE.tmp" "$SOLC_EXE"

# A .pth line runs at the start of every Python of the venv: it points py-solc-x at the folder
# above and, when .venv/bin is not on PATH (venv not activated: `.venv/bin/ape test`), appends
# it, so that ape-foundry still finds anvil. An activated venv's PATH is left as it is.
SITE_PACKAGES="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
"$VENV/bin/python" - "$SOLC_BIN_DIR" "$VENV/bin" >"$SITE_PACKAGES/copyvault-solc.pth" <<'PY'
import json, sys
solc_dir, bin_dir = (json.dumps(p) for p in sys.argv[1:])
print(
    f'import os; os.environ.setdefault("SOLCX_BINARY_PATH", {solc_dir}); '
    f'{bin_dir} in os.environ.get("PATH", "").split(os.pathsep) or os.environ.__setitem__('
    f'"PATH", os.pathsep.join(filter(None, [os.environ.get("PATH"), {bin_dir}])))'
)
PY

# ---------------------------------------------------------------- 4. anvil on the venv's PATH
[ -x node_modules/.bin/anvil ] || die "node_modules/.bin/anvil missing (npm package @foundry-rs/anvil-*)"
ln -sfn ../../node_modules/.bin/anvil "$VENV/bin/anvil"

# ---------------------------------------------------------------- 5. the web app
# Its own locked manifest (web/package.json, web/package-lock.json); web/dist is never committed.
WEB_NPM_STAMP="web/node_modules/.copyvault-package-lock.sha256"
WEB_NPM_HASH="$(sha256_of web/package-lock.json)"
if [ "$(cat "$WEB_NPM_STAMP" 2>/dev/null)" != "$WEB_NPM_HASH" ]; then
    say "installing the web app's npm packages from web/package-lock.json (npm ci)"
    (cd web && npm ci --no-audit --no-fund --loglevel=error)
    printf '%s\n' "$WEB_NPM_HASH" >"$WEB_NPM_STAMP"
else
    say "web app npm packages up to date (web/package-lock.json unchanged)"
fi
# Everything the bundle is built from, in a stable order; a change to any of them rebuilds.
web_sources_hash() {
    find web/src web/index.html web/openapi.json web/abi.json web/package-lock.json \
        web/tsconfig.json web/vite.config.ts backend/chain/eip712_types.json \
        -type f ! -path 'web/src/generated/*' 2>/dev/null |
        LC_ALL=C sort | xargs sha256sum | sha256sum | cut -d' ' -f1
}
WEB_DIST_STAMP="web/dist/.copyvault-sources.sha256"
WEB_HASH="$(web_sources_hash)"
if [ "$(cat "$WEB_DIST_STAMP" 2>/dev/null)" != "$WEB_HASH" ] || [ ! -f web/dist/index.html ]; then
    say "building the web app (web/dist)"
    WEB_LOG="$(mktemp)"
    if ! (cd web && npm run --silent build) >"$WEB_LOG" 2>&1; then
        tail -n 30 "$WEB_LOG" >&2
        die "the web app does not build (above; run: cd web && npm run build)"
    fi
    rm -f "$WEB_LOG"
    printf '%s\n' "$WEB_HASH" >"$WEB_DIST_STAMP"
else
    say "web app build up to date (web/dist)"
fi
# The browser tests drive Debian's chromium (Playwright's own download cannot work here).
if [ ! -x /usr/bin/chromium ]; then
    say "installing Debian's chromium for the web app's browser tests"
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium >/dev/null ||
        die "could not install chromium (run: apt-get install -y chromium)"
fi

# ---------------------------------------------------------------- checks
"$SOLC_EXE" --version | grep -q "^Version: $SOLC_VERSION+" ||
    die "$SOLC_EXE --version does not report $SOLC_VERSION"
FOUND="$("$VENV/bin/python" -c 'import solcx; print(" ".join(map(str, solcx.get_installed_solc_versions())))')"
[ "$FOUND" = "$SOLC_VERSION" ] ||
    die "py-solc-x sees compilers [$FOUND], expected exactly $SOLC_VERSION (check $SITE_PACKAGES/copyvault-solc.pth)"
"$VENV/bin/anvil" --version >/dev/null || die ".venv/bin/anvil does not run"

say "ready: solc $SOLC_VERSION (npm) as $SOLC_EXE, $("$VENV/bin/anvil" --version | head -n1)"
