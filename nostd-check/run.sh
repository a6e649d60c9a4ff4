#!/usr/bin/env bash
# Proves that wasm-smtp-core runs a full SMTP session with no allocator:
#   1. the session (greeting, EHLO, STARTTLS, EHLO, AUTH PLAIN, MAIL/RCPT/DATA, QUIT) runs
#      to completion against the scripted server, on the host (unit test of the no_std lib);
#   2. the same session links into a #![no_std] #![no_main] thumbv7em-none-eabihf ELF with
#      no #[global_allocator] (rustc refuses to link such a binary if any crate in the
#      graph uses `alloc`), and the ELF holds no allocator symbol;
#   3. prints the ELF's sizes, its biggest symbols and the size of SmtpClient;
#   4. wasm-smtp-core builds for wasm32-unknown-unknown.
# NOSTD_CHECK_FEATURES=scram (or cram-md5) runs AUTH with SCRAM-SHA-256 (or CRAM-MD5)
# instead of PLAIN, with the matching core feature, so the sizes show what it costs.
# NOSTD_CHECK_MINIMAL=1 builds the core without its default features (no CHUNKING, no
# XOAUTH2/OAUTHBEARER, no time limits).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
target=thumbv7em-none-eabihf
start=$SECONDS
features=()
if [ -n "${NOSTD_CHECK_MINIMAL:-}" ]; then
    features=(--no-default-features)
fi
if [ -n "${NOSTD_CHECK_FEATURES:-}" ]; then
    features+=(--features "$NOSTD_CHECK_FEATURES")
fi

step() { printf '\n== %s\n' "$*"; }

step "toolchain"
if command -v rustup >/dev/null 2>&1; then
    rustup target add "$target" wasm32-unknown-unknown
    rustup component add llvm-tools >/dev/null 2>&1 \
        || rustup component add llvm-tools-preview >/dev/null 2>&1 \
        || echo "llvm-tools not available from rustup; falling back to GNU binutils"
fi
host="$(rustc -vV | sed -n 's/^host: //p')"
llvm_bin="$(rustc --print sysroot)/lib/rustlib/$host/bin"
# NOSTD_CHECK_BINUTILS=gnu forces the GNU tools (to test that path).
if [ "${NOSTD_CHECK_BINUTILS:-llvm}" != gnu ] && [ -x "$llvm_bin/llvm-size" ] && [ -x "$llvm_bin/llvm-nm" ] && [ -x "$llvm_bin/llvm-objdump" ] \
    && [ -x "$llvm_bin/llvm-objcopy" ]; then
    SIZE="$llvm_bin/llvm-size" NM="$llvm_bin/llvm-nm"
    OBJDUMP="$llvm_bin/llvm-objdump" OBJCOPY="$llvm_bin/llvm-objcopy"
else
    if ! command -v arm-none-eabi-size >/dev/null 2>&1; then
        apt-get update -qq && apt-get install -y -qq binutils-arm-none-eabi >/dev/null
    fi
    SIZE=arm-none-eabi-size NM=arm-none-eabi-nm
    OBJDUMP=arm-none-eabi-objdump OBJCOPY=arm-none-eabi-objcopy
fi
rustc --version
echo "binutils: $SIZE"

cd "$here"

step "host: the scripted session completes (cargo test --lib --target $host)"
cargo test --lib --target "$host" --quiet "${features[@]}"

step "build: cargo build --release --target $target ${features[*]}"
cargo build --release --target "$target" "${features[@]}"
target_dir="${CARGO_TARGET_DIR:-$here/target}"
elf="$target_dir/$target/release/nostd-check"
test -f "$elf"
file_out="$("$OBJDUMP" -f "$elf" | sed -n 's/.*file format //p')"
echo "ELF: $elf ($file_out)"

step "no allocator"
symbols="$("$NM" "$elf")"
# The check must see the client's code, or a stripped ELF would pass vacuously.
core_syms="$(grep -c 'wasm_smtp_core' <<<"$symbols" || true)"
if [ "$core_syms" -eq 0 ]; then
    echo "FAIL: no wasm_smtp_core symbol in the ELF (stripped?), the check would prove nothing" >&2
    exit 1
fi
# __rust_alloc & co. (the allocator shim), __rg_* (a #[global_allocator]), __rdl_* (the
# default allocator), and any function from the `alloc` crate (legacy mangling _ZN5alloc).
if grep -E '__rust_(alloc|dealloc|realloc|alloc_zeroed|alloc_error_handler)|__rg_|__rdl_|_ZN5alloc' <<<"$symbols"; then
    echo "FAIL: allocator symbols in the ELF" >&2
    exit 1
fi
echo "ok: no __rust_alloc/__rg_alloc/__rdl_alloc or alloc:: symbol among $(wc -l <<<"$symbols") symbols ($core_syms from wasm_smtp_core)"

step "sizes ($(basename "$SIZE"), Berkeley: text = vector table + .text + .rodata)"
"$SIZE" "$elf"
echo
"$SIZE" -A "$elf" | grep -E '^(section|\.vector_table|\.text|\.rodata|\.data|\.bss) '

step "15 biggest symbols (bytes, name)"
# Sizes in decimal; Rust's legacy symbol escapes turned back into Rust syntax.
"$NM" --print-size --size-sort --radix=d -C "$elf" | tail -n 15 | sort -k2,2nr \
    | awk '{ size = $2 + 0; $1 = $2 = $3 = ""; sub(/^ +/, ""); printf "%8d  %s\n", size, $0 }' \
    | sed -e 's/\$LT\$/</g' -e 's/\$GT\$/>/g' -e 's/\$u20\$/ /g' -e 's/\$C\$/,/g' \
        -e 's/\$u7b\$/{/g' -e 's/\$u7d\$/}/g' -e 's/\$u5b\$/[/g' -e 's/\$u5d\$/]/g' \
        -e 's/\$RF\$/\&/g' -e 's/\$BP\$/*/g' -e 's/\$u27\$/'"'"'/g' -e 's/\.\./::/g' \
        -e 's/::_{{/::{{/g' -e 's/  _</  </' -e 's/::h[0-9a-f]\{16\}$//'

# Print the u32 stored in .rodata at symbol $1 (the ELF is little-endian).
rodata_bin="$target_dir/$target/release/rodata.bin"
"$OBJCOPY" -O binary --only-section=.rodata "$elf" "$rodata_bin"
rodata_addr="$("$SIZE" -A -d "$elf" | awk '$1 == ".rodata" { print $3 }')"
read_u32() {
    local addr
    addr="$("$NM" "$elf" | awk -v s="$1" '$3 == s { print $1 }')"
    [ -n "$addr" ] || { echo "FAIL: symbol $1 not found" >&2; exit 1; }
    od -An -t u4 --endian=little -j $((0x$addr - rodata_addr)) -N 4 "$rodata_bin" | tr -d ' '
}

step "memory"
client_size="$(read_u32 CLIENT_SIZE)"
transport_size="$(read_u32 TRANSPORT_SIZE)"
future_size="$(read_u32 SESSION_FUTURE_SIZE)"
echo "size_of::<SmtpClient<ScriptedServer>>() (RX 1024, TX 512): $client_size bytes (of which the transport: $transport_size)"
echo "size_of of the whole session future (connect..quit):      $future_size bytes"
# Stack reserved by main's prologue (the session future lives there, everything is inlined).
frame=0
while read -r imm; do
    frame=$((frame + imm))
done < <("$OBJDUMP" -d "$elf" | awk '/<.*__cortex_m_rt_main.*>:$/ { on = 1; n = 0; next }
    on && n++ < 8 && /sub[.w]*[ \t]+sp,/ { match($0, /#(0x[0-9a-f]+|[0-9]+)/); print substr($0, RSTART + 1, RLENGTH - 1) }
    on && n >= 8 { exit }')
echo "stack frame of main (sub sp in its prologue):              $frame bytes"

step "wasm32: cargo build -p wasm-smtp-core --target wasm32-unknown-unknown --release"
(cd "$root" && cargo build -p wasm-smtp-core --target wasm32-unknown-unknown --release)

printf '\nnostd-check: all checks passed in %ss\n' "$((SECONDS - start))"
