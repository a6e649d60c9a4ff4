#!/usr/bin/env bash
# Size report: what wasm-smtp costs inside a Cloudflare Worker.
#
# Builds with worker-build --release (wasm-bindgen, then wasm-opt -Oz), all with the
# example Worker's release profile and its exact `worker` / `wasm-bindgen` pins:
#   (a) benches/wasm-size/floor: a Worker that opens a STARTTLS worker::Socket, writes a
#       line, reads a line and upgrades (no SMTP library);
#   (b) benches/wasm-size/smtp:  the same Worker sending one message with
#       wasm-smtp-cloudflare (connect_smtp_starttls, login, send_mail, quit) and answering
#       with the error's Display text on failure; with the library's default features
#       (build/), without them (build-minimal/) and with each feature alone over that
#       (build-FEATURE/);
#   (p) benches/wasm-size/published: the same Worker through the published
#       wasm-smtp-cloudflare 0.18 (the crate this library replaces), with its default
#       features and without them;
#   (c) benches/wasm-size/handrolled: the same Worker sending one message with a
#       hand-written SMTP session (EHLO, STARTTLS, AUTH PLAIN, MAIL, RCPT, DATA, QUIT; no
#       validation, no library): a lower bound, a measurement and not a product;
#   the example Worker (adapter-cloudflare/examples/worker), for reference;
# and prints raw and gzip -9 sizes of each index_bg.wasm and index.js, and the cost of
# each Worker over (a): this library and the published crate side by side, with and
# without default features, then what each of this library's features adds.
#
#   bash benches/wasm-size.sh            # build them all (about 6 minutes warm), print the tables
#   bash benches/wasm-size.sh --names    # also build (a), (b), (c) and (p) with their
#                                        # name sections (no strip, no wasm-opt) for twiggy:
#                                        # benches/wasm-size/*/target/names/index_bg.wasm
#                                        # (* = floor, smtp, handrolled, published)
#
# The tools come from adapter-cloudflare/examples/worker/build.sh --tools-only (installed
# into ~/.cache/wasm-smtp-tools on first use, about 9 minutes on 2 cores). Writes only
# target/, build*/ and Cargo.lock inside benches/wasm-size/* and the example (all ignored).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
example="$root/adapter-cloudflare/examples/worker"

names=0
if [ "${1:-}" = --names ]; then
  names=1
fi

# WORKER_BUILD=..., WASM_BINDGEN_BIN=..., WASM_OPT_BIN=..., ESBUILD_BIN=...
tools="$(bash "$example/build.sh" --tools-only)"
tool() { printf '%s\n' "$tools" | sed -n "s/^$1=//p"; }
WORKER_BUILD="$(tool WORKER_BUILD)"
WASM_BINDGEN_BIN="$(tool WASM_BINDGEN_BIN)"
WASM_OPT_BIN="$(tool WASM_OPT_BIN)"
ESBUILD_BIN="$(tool ESBUILD_BIN)"
for t in "$WORKER_BUILD" "$WASM_BINDGEN_BIN" "$WASM_OPT_BIN" "$ESBUILD_BIN"; do
  [ -x "$t" ] || { echo "wasm-size.sh: tool missing: '$t'" >&2; exit 1; }
done
export WASM_BINDGEN_BIN WASM_OPT_BIN ESBUILD_BIN

build() { # dir out-dir [cargo arguments...]
  local dir=$1 out=$2
  shift 2
  printf '== wasm-size: worker-build --release --out-dir %s %s %s\n' "$out" "${dir#"$root"/}" "$*"
  (cd "$dir" && "$WORKER_BUILD" --release --out-dir "$out" . "$@" >/dev/null \
    2>"$dir/target/worker-build.log" || { cat "$dir/target/worker-build.log" >&2; exit 1; })
}

floor="$root/benches/wasm-size/floor"
smtp="$root/benches/wasm-size/smtp"
handrolled="$root/benches/wasm-size/handrolled"
published="$root/benches/wasm-size/published"
for dir in "$floor" "$smtp" "$handrolled" "$published" "$example"; do
  mkdir -p "$dir/target"
done
# The library's features (wasm-smtp-cloudflare passes them to the core), each measured
# alone on top of the minimal build.
features="chunking auth-oauth timeouts dsn auth-scram auth-cram-md5"

declare -A size
measure() { # name dir out-dir
  size[$1.wasm]=$(raw "$2/$3/index_bg.wasm")
  size[$1.wasm.gz]=$(gz "$2/$3/index_bg.wasm")
  size[$1.js]=$(raw "$2/$3/index.js")
  size[$1.js.gz]=$(gz "$2/$3/index.js")
}
raw() { wc -c <"$1"; }
gz() { gzip -9c "$1" | wc -c; }
kb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1000 }'; }

build "$floor" build && measure floor "$floor" build
build "$smtp" build && measure smtp "$smtp" build
build "$smtp" build-minimal --no-default-features && measure minimal "$smtp" build-minimal
for f in $features; do
  build "$smtp" "build-$f" --no-default-features --features "$f" && measure "$f" "$smtp" "build-$f"
done
build "$handrolled" build && measure handrolled "$handrolled" build
build "$published" build && measure published "$published" build
build "$published" build-minimal --no-default-features &&
  measure published_minimal "$published" build-minimal
build "$example" build && measure example "$example" build

row() { # label wasm wasm.gz js js.gz total
  printf '| %-55s | %8s | %8s | %7s | %7s | %8s |\n' "$1" "$2" "$3" "$4" "$5" "$6"
}
line() { # label name
  local w=${size[$2.wasm]} wg=${size[$2.wasm.gz]} j=${size[$2.js]} jg=${size[$2.js.gz]}
  row "$1" "$w" "$wg" "$j" "$jg" "$(kb $((wg + jg)))"
}
diff_row() { # label name base
  row "$1" \
    $((size[$2.wasm] - size[$3.wasm])) $((size[$2.wasm.gz] - size[$3.wasm.gz])) \
    $((size[$2.js] - size[$3.js])) $((size[$2.js.gz] - size[$3.js.gz])) \
    "$(kb $((size[$2.wasm.gz] + size[$2.js.gz] - size[$3.wasm.gz] - size[$3.js.gz])))"
}

echo
echo "bytes; gzip -9; total = wasm + JS after gzip, in KB (1000 bytes)"
row "Worker" "wasm" "wasm gz" "JS" "JS gz" "total gz"
row "---" "---:" "---:" "---:" "---:" "---:"
line "(a) floor" floor
line "(b) floor + wasm-smtp" smtp
diff_row "(b) - (a), default features" smtp floor
line "(b) without default features" minimal
diff_row "(b) - (a), no default features" minimal floor
line "(p) floor + published wasm-smtp-cloudflare 0.18" published
diff_row "(p) - (a), default features" published floor
line "(p) without default features" published_minimal
diff_row "(p) - (a), no default features" published_minimal floor
line "(c) floor + hand-written SMTP" handrolled
diff_row "(c) - (a): hand-written SMTP, no validation" handrolled floor
line "example Worker" example
echo
echo "side by side: cost over (a), gzip KB (wasm + JS), Workers answering with the error's Display"
row "configuration" "" "" "" "" "this / published"
row "---" "" "" "" "" "---:"
cost() { kb $((size[$1.wasm.gz] + size[$1.js.gz] - size[floor.wasm.gz] - size[floor.js.gz])); }
row "default features" "" "" "" "" "$(cost smtp) / $(cost published)"
row "no default features" "" "" "" "" "$(cost minimal) / $(cost published_minimal)"
echo
echo "each feature alone, over the build without default features (wasm-smtp-cloudflare"
echo "--no-default-features --features F):"
row "feature" "wasm" "wasm gz" "JS" "JS gz" "total gz"
row "---" "---:" "---:" "---:" "---:" "---:"
for f in $features; do
  diff_row "+ $f" "$f" minimal
done

if [ "$names" = 1 ]; then
  # (a), (b), (c) and (p) with their name sections, for twiggy (`twiggy top`, `twiggy diff`):
  # the same profile without strip, through wasm-bindgen (which keeps the names) but not
  # wasm-opt. Their own target directories, so that the stripped builds above are not
  # rebuilt next time.
  echo
  for dir in "$floor" "$smtp" "$handrolled" "$published"; do
    out="$dir/target/names"
    crate="$(basename "$dir")"
    printf '== wasm-size: %s with names -> %s\n' "$crate" "${out#"$root"/}/index_bg.wasm"
    (cd "$dir" && CARGO_PROFILE_RELEASE_STRIP=none CARGO_TARGET_DIR="$dir/target/names-build" \
      cargo build --release --target wasm32-unknown-unknown --quiet)
    "$WASM_BINDGEN_BIN" --target module --out-dir "$out" --out-name index \
      "$dir/target/names-build/wasm32-unknown-unknown/release/wasm_size_${crate//-/_}.wasm"
    printf '   %s bytes\n' "$(raw "$out/index_bg.wasm")"
  done
fi
