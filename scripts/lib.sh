# Shared helpers for scripts/test and scripts/quickstart. Source it; do not run it.
# Everything a script needs is installed here, into the repository (.venv, .tools) or from
# Debian's packages, so a fresh machine needs nothing done by hand.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV="$ROOT/.venv"
TOOLS="$ROOT/.tools"
SKIPPED=()

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
warn() { printf '\033[33mwarning:\033[0m %s\n' "$*" >&2; }
die() { printf '\033[31merror:\033[0m %s\n' "$*" >&2; exit 1; }

# Runs COMMAND... and, while it runs, says every 20 seconds that it still runs (cargo is
# silent while it compiles one large crate or links): `with_heartbeat WHAT COMMAND...`.
with_heartbeat() {
  local what=$1; shift
  "$@" &
  local pid=$! start=$SECONDS next=20
  while kill -0 "$pid" 2>/dev/null; do
    sleep 1
    if [ $((SECONDS - start)) -ge "$next" ]; then
      printf '    ... still %s (%d s so far)\n' "$what" $((SECONDS - start)) >&2
      next=$((next + 20))
    fi
  done
  wait "$pid"
}

# The lines of the README's ```sh block that follows the marker `<!-- NAME`.
readme_block() {
  awk -v mark="<!-- $1" '
    index($0, mark) == 1 { found = 1; next }
    found && /^```sh/ { inside = 1; next }
    inside && /^```/ { exit }
    inside { print }
  ' "$ROOT/README.md"
}

# Record something that was not run, and why; scripts print the list at the end.
skip() { SKIPPED+=("$*"); warn "skipped: $*"; }

print_skipped() {
  if [ ${#SKIPPED[@]} -eq 0 ]; then
    say "nothing was skipped"
  else
    say "skipped (${#SKIPPED[@]}):"
    printf '  - %s\n' "${SKIPPED[@]}" >&2
  fi
}

# A Python venv holding the emulator and the validators the tests call (moto, cfn-lint,
# the AWS CLI). Pinned in scripts/requirements.txt; reinstalled only when that file changes.
ensure_venv() {
  local stamp="$VENV/.requirements.sha256" want
  want=$(sha256sum "$ROOT/scripts/requirements.txt" | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    return 0
  fi
  say "installing Python tools into .venv (moto, cfn-lint, awscli)"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check --upgrade pip
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$ROOT/scripts/requirements.txt"
  echo "$want" >"$stamp"
}

# Is a PostgreSQL server answering on 127.0.0.1:5432?
postgres_answers() {
  (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null
}

# A crates.io tool installed into .tools/bin at a pinned version.
ensure_cargo_tool() {
  local krate=$1 version=$2 bin=${3:-$1}
  if [ -x "$TOOLS/bin/$bin" ] && "$TOOLS/bin/$bin" --version 2>/dev/null | grep -q "$version"; then
    return 0
  fi
  say "installing $krate $version into .tools"
  cargo install --quiet --locked --root "$TOOLS" "$krate" --version "$version"
}

# OpenSSL's headers and pkg-config, which the passkey library (webauthn-rs, through
# openssl-sys) builds against. Fails (returns 1) when they are missing and cannot be
# installed.
ensure_build_deps() {
  if command -v pkg-config >/dev/null && pkg-config --exists openssl; then
    return 0
  fi
  if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null; then
    return 1
  fi
  say "installing Debian's libssl-dev and pkg-config (the passkey library builds against OpenSSL)"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq libssl-dev pkg-config >/dev/null
}

# Debian's headless Chromium and its WebDriver, for the browser tests.
ensure_chromium() {
  if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
    return 0
  fi
  if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null; then
    return 1
  fi
  say "installing Debian's chromium and chromium-driver"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium chromium-driver >/dev/null
}

# Builds the cargo-fuzz targets in `$1/fuzz` (cargo-fuzz uses nightly compiler flags; the
# stable toolchain accepts them with RUSTC_BOOTSTRAP=1). Building is what CI checks; run
# one from $1 with `PATH=$ROOT/.tools/bin:$PATH RUSTC_BOOTSTRAP=1 cargo fuzz run TARGET`.
build_fuzz_targets() {
  local dir=$1
  ensure_cargo_tool cargo-fuzz 0.13.2
  say "building the fuzz targets of $dir"
  # One target directory for every fuzz crate: they share the instrumented dependencies.
  (cd "$dir" && PATH="$TOOLS/bin:$PATH" RUSTC_BOOTSTRAP=1 \
    cargo fuzz build --release --target-dir "$ROOT/target/fuzz")
}

# The OpenID provider the SSO tests sign in through: the `oidc-provider` npm package, pinned
# in crates/breakglass-testkit/oidc/package-lock.json, installed there with `npm ci`; again
# only when the lock file changes. Fails (returns 1) when Node.js or npm is missing.
ensure_oidc_provider() {
  local dir="$ROOT/crates/breakglass-testkit/oidc"
  local stamp="$dir/node_modules/.package-lock.sha256" want
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    return 1
  fi
  want=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    return 0
  fi
  say "installing the test OpenID provider (npm ci in crates/breakglass-testkit/oidc)"
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error) || return 1
  echo "$want" >"$stamp"
}
