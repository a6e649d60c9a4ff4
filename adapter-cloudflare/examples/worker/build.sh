#!/usr/bin/env bash
# Builds the example Worker with worker-build into build/ (index.js, index_bg.wasm),
# without any download from GitHub: worker-build would fetch wasm-bindgen, wasm-opt and
# esbuild from there; this script installs them from the Rust crate registry and npm at
# exact versions into a tool cache and points worker-build at them
# (WASM_BINDGEN_BIN, WASM_OPT_BIN, ESBUILD_BIN). Each tool is installed only if missing.
#
#   bash build.sh                 # install missing tools, then worker-build --release
#   bash build.sh --tools-only    # only install the tools and print their paths
#   bash build.sh --no-opt        # extra arguments go to worker-build (here: skip wasm-opt)
#
# Environment:
#   WASM_SMTP_TOOLS   tool cache (default: $HOME/.cache/wasm-smtp-tools)
#
# Nothing is written into the repository except target/, build/ and Cargo.lock here
# (all ignored): no node_modules, no package-lock.json.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

# worker-build matching the `worker` crate (=0.8.7 in Cargo.toml); binaryen and esbuild
# at the versions this worker-build release downloads by default (its src/versions.rs).
WORKER_BUILD_VERSION=0.8.7
BINARYEN_VERSION=132.0.0
ESBUILD_VERSION=0.28.2

TOOLS="${WASM_SMTP_TOOLS:-${HOME:-/root}/.cache/wasm-smtp-tools}"

tools_only=0
if [ "${1:-}" = --tools-only ]; then
  tools_only=1
  shift
fi

now() { date +%s.%N; }
took() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
step_start=0
step() { printf '== build: %s\n' "$*"; step_start=$(now); }
done_step() { printf '   %s (%ss)\n' "$*" "$(took "$step_start")"; }
need() { command -v "$1" >/dev/null 2>&1 || { echo "build.sh: $1 is missing ($2)" >&2; exit 2; }; }
need cargo "install Rust >= 1.91 with rustup"
need npm "install Node.js and npm"
need node "install Node.js"
if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  rustup target add wasm32-unknown-unknown
fi

total_start=$(now)

# ------------------------------------------------------------ wasm-bindgen version
# wasm-bindgen-cli must be exactly the wasm-bindgen library version in Cargo.lock
# (pinned in Cargo.toml so that it does not move under the tool cache).
[ -f Cargo.lock ] || cargo generate-lockfile --quiet
WASM_BINDGEN_VERSION="$(awk '
  $0 == "name = \"wasm-bindgen\"" { getline; gsub(/^version = "|"$/, ""); print; exit }
' Cargo.lock)"
[ -n "$WASM_BINDGEN_VERSION" ] || { echo "build.sh: no wasm-bindgen in Cargo.lock" >&2; exit 1; }

WORKER_BUILD="$TOOLS/worker-build-$WORKER_BUILD_VERSION/bin/worker-build"
WASM_BINDGEN="$TOOLS/wasm-bindgen-cli-$WASM_BINDGEN_VERSION/bin/wasm-bindgen"
WASM_OPT="$TOOLS/binaryen-$BINARYEN_VERSION/node_modules/.bin/wasm-opt"
ESBUILD="$TOOLS/esbuild-$ESBUILD_VERSION/node_modules/.bin/esbuild"

# ------------------------------------------------------------ 1. worker-build (5-10 min cold)
step "worker-build $WORKER_BUILD_VERSION"
if [ -x "$WORKER_BUILD" ] && [ "$("$WORKER_BUILD" --version 2>/dev/null)" = "$WORKER_BUILD_VERSION" ]; then
  done_step "already installed"
else
  rm -rf "$TOOLS/worker-build-$WORKER_BUILD_VERSION"
  cargo install --locked "worker-build@$WORKER_BUILD_VERSION" \
    --root "$TOOLS/worker-build-$WORKER_BUILD_VERSION"
  done_step "installed"
fi

# ------------------------------------------------------------ 2. wasm-bindgen-cli (3-6 min cold)
step "wasm-bindgen-cli $WASM_BINDGEN_VERSION"
if [ -x "$WASM_BINDGEN" ] &&
  [ "$("$WASM_BINDGEN" --version 2>/dev/null | awk '{print $2}')" = "$WASM_BINDGEN_VERSION" ]; then
  done_step "already installed"
else
  rm -rf "$TOOLS/wasm-bindgen-cli-$WASM_BINDGEN_VERSION"
  # Installed without --locked (tested that way); the CLI version itself is exact.
  cargo install "wasm-bindgen-cli@$WASM_BINDGEN_VERSION" \
    --root "$TOOLS/wasm-bindgen-cli-$WASM_BINDGEN_VERSION"
  done_step "installed"
fi

# npm packages into a private prefix in the tool cache (no lock file, nothing saved).
npm_tool() { # dir package@version binary
  local dir="$1" pkg="$2" bin="$3"
  if [ -x "$bin" ]; then
    done_step "already installed"
  else
    rm -rf "$dir"
    mkdir -p "$dir"
    npm install --prefix "$dir" --no-audit --no-fund --no-save --no-package-lock \
      --loglevel=error "$pkg" >/dev/null
    [ -x "$bin" ] || { echo "build.sh: $bin missing after npm install $pkg" >&2; exit 1; }
    done_step "installed"
  fi
}

# ------------------------------------------------------------ 3. wasm-opt (npm binaryen)
step "wasm-opt (binaryen $BINARYEN_VERSION, npm)"
npm_tool "$TOOLS/binaryen-$BINARYEN_VERSION" "binaryen@$BINARYEN_VERSION" "$WASM_OPT"

# ------------------------------------------------------------ 4. esbuild (npm)
step "esbuild $ESBUILD_VERSION (npm)"
npm_tool "$TOOLS/esbuild-$ESBUILD_VERSION" "esbuild@$ESBUILD_VERSION" "$ESBUILD"

if [ "$tools_only" = 1 ]; then
  echo "WORKER_BUILD=$WORKER_BUILD"
  echo "WASM_BINDGEN_BIN=$WASM_BINDGEN"
  echo "WASM_OPT_BIN=$WASM_OPT"
  echo "ESBUILD_BIN=$ESBUILD"
  printf '== build: tools ready in %ss\n' "$(took "$total_start")"
  exit 0
fi

# ------------------------------------------------------------ 5. worker-build
step "worker-build --release $*"
WASM_BINDGEN_BIN="$WASM_BINDGEN" WASM_OPT_BIN="$WASM_OPT" ESBUILD_BIN="$ESBUILD" \
  "$WORKER_BUILD" --release "$@"
done_step "built"

for f in build/index_bg.wasm build/index.js; do
  if [ -f "$f" ]; then
    printf '   %-22s %8d bytes, %8d gzip -9\n' "$f" "$(wc -c <"$f")" "$(gzip -9c "$f" | wc -c)"
  fi
done
printf '== build: done in %ss\n' "$(took "$total_start")"
