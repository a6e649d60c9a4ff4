#!/usr/bin/env bash
# Builds the firmware (src/main.rs: the TAP run's sending code on embassy-executor for
# Cortex-M, a static embassy-net stack, embedded-tls, no allocator) for
# thumbv7em-none-eabihf and reports what it costs:
#   - .text/.rodata/.data/.bss of the ELF with the core's minimal feature set (no
#     default features), its default features and its full feature set (every feature
#     in core/Cargo.toml, the transport's embassy-time timer; `defmt` brings an RTT
#     logger), and of the same firmware without the SMTP core (feature `no-smtp`: the
#     transport writes the message itself after the handshake);
#   - the SMTP core's share of flash: (minimal) - (no-smtp), and per crate by symbol;
#   - what each feature of the core adds alone over the minimal build;
#   - the size of each static buffer, of the SMTP client's state and of the transport;
#   - that no allocator is linked.
#
#   bash adapter-embassy/firmware/run.sh
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
target=thumbv7em-none-eabihf
start=$SECONDS
step() { printf '\n== %s\n' "$*"; }
fail() { echo "firmware/run.sh: FAIL: $*" >&2; exit 1; }

step "toolchain"
if command -v rustup >/dev/null 2>&1; then
  rustup target add "$target" >/dev/null
  rustup component add llvm-tools >/dev/null 2>&1 || rustup component add llvm-tools-preview >/dev/null
fi
host="$(rustc -vV | sed -n 's/^host: //p')"
llvm_bin="$(rustc --print sysroot)/lib/rustlib/$host/bin"
SIZE="$llvm_bin/llvm-size" NM="$llvm_bin/llvm-nm" OBJCOPY="$llvm_bin/llvm-objcopy"
for t in "$SIZE" "$NM" "$OBJCOPY"; do [ -x "$t" ] || fail "missing $t (rustup component add llvm-tools)"; done
rustc --version

# The core's features (all of them but `default`), as cargo sees them.
core_features="$(cd "$root" && cargo metadata --format-version 1 --no-deps | python3 -c '
import json, sys
for p in json.load(sys.stdin)["packages"]:
    if p["name"] == "wasm-smtp-core":
        print(" ".join(sorted(f for f in p["features"] if f != "default")))')"
# `defmt` needs the firmware's logger; any other core feature is switched on directly.
full=""
for f in $core_features; do
  if [ "$f" = defmt ]; then full="$full defmt"; else full="$full wasm-smtp-core/$f"; fi
done
# The transport's timer too (without it the engine's time limits have no clock).
full="$full wasm-smtp-embassy/embassy-time"
full="$(echo $full | tr ' ' ',')"
echo "core features: ${core_features:-(none)}; full build: --features ${full:-(none)}"

cd "$here"
target_dir="${CARGO_TARGET_DIR:-$here/target}"
out="$target_dir/sizes"
mkdir -p "$out"

build() { # NAME FEATURES
  step "build $1: cargo build --release${2:+ --features $2}"
  cargo build --release --target "$target" ${2:+--features "$2"}
  cp "$target_dir/$target/release/firmware" "$out/firmware-$1.elf"
}
build minimal ""
build default "wasm-smtp-core/default"
build full "$full"
build no-smtp "no-smtp"
# Each feature alone over the minimal build (defmt needs the logger: it is in `full`).
per_feature=""
for f in $core_features; do
  case $f in
    defmt | default) ;;
    # The engine's timer only runs with the transport's sleep.
    embassy-time) build "feature-$f" "wasm-smtp-embassy/embassy-time"; per_feature="$per_feature $f" ;;
    *) build "feature-$f" "wasm-smtp-core/$f"; per_feature="$per_feature $f" ;;
  esac
done

# section NAME ELF -> size in bytes (0 when absent)
section() { "$SIZE" -A -d "$2" | awk -v s="$1" '$1 == s { print $2; f = 1 } END { if (!f) print 0 }'; }

step "no allocator"
for v in minimal default full no-smtp; do
  elf="$out/firmware-$v.elf"
  syms="$("$NM" "$elf")"
  if grep -qE '__rust_(alloc|dealloc|realloc|alloc_zeroed)|__rg_|__rdl_|_ZN5alloc' <<<"$syms"; then
    fail "$v: allocator symbols in the ELF"
  fi
done
grep -q wasm_smtp_core <<<"$("$NM" "$out/firmware-minimal.elf")" || fail "no wasm_smtp_core symbol in the firmware"
grep -q wasm_smtp_core <<<"$("$NM" "$out/firmware-no-smtp.elf" | grep -v 'wasm_smtp_core..io\|Transport')" \
  && echo "note: the no-smtp build still has wasm_smtp_core symbols (trait glue)"
echo "ok: no allocator symbol in any build"

step "sections (bytes; flash = .vector_table + .text + .rodata + .data, RAM = .data + .bss)"
printf '%-9s %8s %8s %8s %8s %8s %8s\n' build .vector .text .rodata .data .bss flash
for v in minimal default full no-smtp; do
  elf="$out/firmware-$v.elf"
  vt=$(section .vector_table "$elf") tx=$(section .text "$elf") ro=$(section .rodata "$elf")
  da=$(section .data "$elf") bs=$(section .bss "$elf")
  printf '%-9s %8d %8d %8d %8d %8d %8d\n' "$v" "$vt" "$tx" "$ro" "$da" "$bs" $((vt + tx + ro + da))
  eval "text_$(tr - _ <<<"$v")=$tx rodata_$(tr - _ <<<"$v")=$ro"
done

step "the SMTP core's share of flash (same firmware with and without the core)"
printf 'minimal - no-smtp: .text %+d bytes, .rodata %+d bytes\n' \
  $((text_minimal - text_no_smtp)) $((rodata_minimal - rodata_no_smtp))
printf 'default - no-smtp: .text %+d bytes, .rodata %+d bytes\n' \
  $((text_default - text_no_smtp)) $((rodata_default - rodata_no_smtp))
printf 'full    - no-smtp: .text %+d bytes, .rodata %+d bytes\n' \
  $((text_full - text_no_smtp)) $((rodata_full - rodata_no_smtp))
echo "(minimal: the core without default features; default: its default features"
echo " (chunking, auth-oauth, timeouts); full: every feature, the transport's embassy-time"
echo " timer and an RTT logger for defmt)"

step "what each feature adds alone over the minimal build (.text, .rodata)"
for f in $per_feature; do
  elf="$out/firmware-feature-$f.elf"
  printf '%-14s %+7d %+6d\n' "$f" $(($(section .text "$elf") - text_minimal)) \
    $(($(section .rodata "$elf") - rodata_minimal))
done
echo "(embassy-time: with the transport's timer, which enables the engine's timeouts)"

step ".text by crate, minimal build (symbol names; code inlined into another crate's function counts there)"
"$NM" -S -C --defined-only "$out/firmware-minimal.elf" | python3 -c '
import re, sys
# Rust legacy symbol escapes that the demangler leaves in place.
ESC = [("$LT$", "<"), ("$GT$", ">"), ("$u20$", " "), ("$RF$", "&"), ("$BP$", "*"), ("$C$", ","),
       ("$u7b$", "{"), ("$u7d$", "}"), ("$u5b$", "["), ("$u5d$", "]"), ("$u27$", "\x27"), ("..", "::")]
sizes = {}
for line in sys.stdin:
    parts = line.split(None, 3)
    if len(parts) < 4 or parts[2] not in "tT":
        continue
    name = parts[3].strip()
    for a, b in ESC:
        name = name.replace(a, b)
    if name.startswith("_<"):
        name = name[1:]
    # <T as trait::path>::f belongs to the trait crate when T is a type parameter.
    m = re.match(r"<[&*]?(?:mut )?[A-Z][A-Za-z0-9_]* as ([A-Za-z_][A-Za-z0-9_]*)::", name) \
        or re.match(r"[<&*\[ ]*(?:mut |const |dyn )?([A-Za-z_][A-Za-z0-9_]*)::", name)
    crate = m.group(1) if m else "(no path: runtime, compiler builtins, " + name[:20] + "...)"
    if not m and re.match(r"(__aeabi|__ARM|mem|__udiv|__mul|compiler)", name):
        crate = "(compiler builtins)"
    elif not m:
        crate = "(other: " + name + ")"
    sizes[crate] = sizes.get(crate, 0) + int(parts[1], 16)
total = sum(sizes.values())
small = 0
for crate, n in sorted(sizes.items(), key=lambda kv: -kv[1]):
    if n >= 256:
        print(f"{n:8d}  {crate}")
    else:
        small += n
print(f"{small:8d}  (smaller groups)")
print(f"{total:8d}  total of sized text symbols")
'

step "static RAM (.bss/.data symbols of 256 bytes or more), minimal build"
"$NM" -S -C --defined-only "$out/firmware-minimal.elf" | awk '$3 ~ /^[bBdD]$/' | while read -r _ size _ name; do
  n=$((16#$size))
  if [ "$n" -ge 256 ]; then printf '%8d  %s\n' "$n" "$(sed -e 's/::h[0-9a-f]\{16\}$//' <<<"$name")"; fi
done | sort -rn

# Read the u32 stored in .rodata at symbol $2 of ELF $1 (little-endian).
read_u32() {
  local elf="$1" addr base bin="$out/rodata.bin"
  "$OBJCOPY" -O binary --only-section=.rodata "$elf" "$bin"
  base="$("$SIZE" -A -d "$elf" | awk '$1 == ".rodata" { print $3 }')"
  addr="$("$NM" "$elf" | awk -v s="$2" '$3 == s { print $1 }')"
  [ -n "$addr" ] || fail "symbol $2 not found"
  od -An -t u4 --endian=little -j $((16#$addr - base)) -N 4 "$bin" | tr -d ' '
}

step "the SMTP client and the transport (size_of, minimal build)"
echo "SmtpClient state (RX 1024 + TX 512 + session), without the &mut transport: $(read_u32 "$out/firmware-minimal.elf" CLIENT_STATE_SIZE) bytes"
echo "EmbassyTransport (socket ref, embedded-tls connection state, TLS setup):   $(read_u32 "$out/firmware-minimal.elf" TRANSPORT_SIZE) bytes"
echo "(both live in smtp_task::POOL, the statically allocated future of the sending task,"
echo " together with the TLS handshake's temporaries, including a $((4096)) byte copy of the"
echo " server's certificate chain for verification)"

printf '\nfirmware/run.sh: done in %ss\n' "$((SECONDS - start))"
