#!/usr/bin/env bash
# Build every fuzz target and run each for a bounded time. Exits non-zero on any crash
# (or build failure).
#
#   bash fuzz/run.sh                     # 20 s per target, best mode available
#   FUZZ_SECONDS=60 bash fuzz/run.sh     # longer
#   bash fuzz/run.sh data_encoder        # only some targets
#
# Modes, picked in this order unless FUZZ_MODE says otherwise (nothing is installed
# unless FUZZ_INSTALL=1):
#   nightly   cargo-fuzz on the nightly toolchain: libFuzzer, coverage-guided, with
#             AddressSanitizer. Needs `cargo fuzz` and a `nightly` rustup toolchain.
#   stable    cargo-fuzz on the default (stable) toolchain with `--sanitizer none`:
#             libFuzzer, coverage-guided, no sanitizer. Needs `cargo fuzz` only.
#   smoke     no cargo-fuzz: `cargo run --example smoke` on the stable toolchain runs the same
#             target bodies over the corpus and fixed-seed pseudo-random inputs (no
#             coverage feedback).
#
# Environment:
#   FUZZ_SECONDS   seconds per target (default 20)
#   FUZZ_MODE      auto (default) | nightly | stable | smoke
#   FUZZ_INSTALL   1: install what the best mode needs first, if missing
#                  (`cargo install cargo-fuzz --locked`, ~1.5 min cold on 2 cores;
#                  `rustup toolchain install nightly --profile minimal`)
#   FUZZ_SEED      seed for the smoke runner (default: its built-in seed)
#   FUZZ_ARGS      extra libFuzzer flags (nightly/stable modes), e.g. "-jobs=2"
#   FUZZ_CARGO_ARGS  extra cargo flags for the build, e.g. "--no-default-features" to
#                  fuzz the core without its default features
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
seconds="${FUZZ_SECONDS:-20}"
mode="${FUZZ_MODE:-auto}"
all_targets=(reply_parser reply_parser_split data_encoder session command_encoding whole_session)
if [ "$#" -gt 0 ]; then targets=("$@"); else targets=("${all_targets[@]}"); fi

case "$seconds" in
  '' | *[!0-9]*) echo "run.sh: FUZZ_SECONDS must be a whole number of seconds" >&2; exit 2 ;;
esac

have_cargo_fuzz() { command -v cargo-fuzz >/dev/null 2>&1; }
have_nightly() {
  command -v rustup >/dev/null 2>&1 &&
    rustup toolchain list 2>/dev/null | grep -q '^nightly' &&
    rustup run nightly rustc --version >/dev/null 2>&1
}

if [ "${FUZZ_INSTALL:-0}" = 1 ]; then
  if ! have_cargo_fuzz; then
    echo "run.sh: installing cargo-fuzz" >&2
    cargo install cargo-fuzz --version 0.13.2 --locked
  fi
  if ! have_nightly && command -v rustup >/dev/null 2>&1; then
    echo "run.sh: installing the nightly toolchain" >&2
    rustup toolchain install nightly --profile minimal || echo "run.sh: no nightly; going on without" >&2
  fi
fi

if [ "$mode" = auto ]; then
  if have_cargo_fuzz && have_nightly; then
    mode=nightly
  elif have_cargo_fuzz; then
    mode=stable
  else
    mode=smoke
  fi
fi

echo "run.sh: mode=$mode, ${seconds}s per target: ${targets[*]}${FUZZ_CARGO_ARGS:+ (cargo ${FUZZ_CARGO_ARGS})}"
start=$(date +%s)

case "$mode" in
  nightly | stable)
    have_cargo_fuzz || { echo "run.sh: cargo-fuzz is not installed (FUZZ_INSTALL=1 installs it)" >&2; exit 2; }
    if [ "$mode" = nightly ]; then
      have_nightly || { echo "run.sh: no nightly toolchain (FUZZ_INSTALL=1 installs it)" >&2; exit 2; }
      fuzz=(cargo +nightly fuzz)
      build_flags=(-O -a)
    else
      fuzz=(cargo fuzz)
      build_flags=(-O -a --sanitizer none)
    fi
    cd "$root"
    # One build for all targets; `run` below then finds them up to date.
    # shellcheck disable=SC2086
    "${fuzz[@]}" build "${build_flags[@]}" ${FUZZ_CARGO_ARGS:-}
    for t in "${targets[@]}"; do
      mkdir -p "$here/corpus/$t"
      echo "== $t"
      mkdir -p "$here/target"
      log="$here/target/fuzz-$t.log"
      # libFuzzer writes its progress to stderr: keep it in a log, show it on failure.
      # shellcheck disable=SC2086
      if ! "${fuzz[@]}" run "${build_flags[@]}" ${FUZZ_CARGO_ARGS:-} "$t" -- \
        -max_total_time="$seconds" -dict="$here/smtp.dict" -timeout=10 -print_final_stats=1 \
        ${FUZZ_ARGS:-} >"$log" 2>&1; then
        tail -n 60 "$log" >&2
        echo "run.sh: $t FAILED (artifacts in fuzz/artifacts/$t/, full log in $log)" >&2
        exit 1
      fi
      grep -E '^(Done|stat::number_of_executed_units|stat::average_exec_per_sec)' "$log" |
        sed "s/^/  $t: /" || true
    done
    ;;
  smoke)
    cd "$here"
    # shellcheck disable=SC2086
    cargo build --release --example smoke ${FUZZ_CARGO_ARGS:-}
    seed_args=()
    if [ -n "${FUZZ_SEED:-}" ]; then seed_args=(--seed "$FUZZ_SEED"); fi
    # Exits 1 on the first crash, after saving the input under fuzz/artifacts/<target>/.
    ./target/release/examples/smoke --seconds "$seconds" "${seed_args[@]}" "${targets[@]}"
    ;;
  *)
    echo "run.sh: unknown FUZZ_MODE '$mode' (auto, nightly, stable, smoke)" >&2
    exit 2
    ;;
esac

echo "run.sh: all targets passed ($mode mode, $(($(date +%s) - start)) s in all)"
