#!/usr/bin/env bash
# Release hygiene, without building anything (a few seconds):
#   1. every registry dependency is pinned exactly and consistently (scripts/check-pins.py);
#   2. NOTICE lists the third-party crates that ship, as they are today (scripts/notice.py);
#   3. each published crate's package holds LICENSE, NOTICE and its README.
#
#   bash scripts/check-release.sh
#
# Needs cargo and python3 (3.11 or later). Exits non-zero, saying what is wrong, on the
# first failed check.
set -euo pipefail
cd "$(dirname "$0")/.."

fail() { printf 'check-release: %s\n' "$*" >&2; exit 1; }

python3 scripts/check-pins.py || fail "dependency pins (see above)"
python3 scripts/notice.py --check || fail "NOTICE is stale (see above)"

# name<TAB>readme of each published crate (publish not set to false), from cargo metadata.
crates=$(cargo metadata --format-version 1 --no-deps | python3 -c '
import json, sys
m = json.load(sys.stdin)
members = set(m["workspace_members"])
for p in m["packages"]:
    if p["id"] in members and p["publish"] is None:
        print(p["name"], p["readme"] or "", sep="\t")
')
[ -n "$crates" ] || fail "no published crate found in the workspace"

while IFS=$'\t' read -r crate readme; do
  [ -n "$readme" ] || fail "$crate: no \`readme\` in its Cargo.toml"
  list=$(cargo package --list --allow-dirty -p "$crate" 2>/dev/null) ||
    fail "$crate: \`cargo package --list --allow-dirty -p $crate\` failed"
  for file in LICENSE NOTICE "$(basename "$readme")"; do
    grep -qxF "$file" <<<"$list" ||
      fail "$crate: its package lacks $file (link it into the crate's folder, e.g. ln -s ../$file $file)"
  done
  echo "check-release: $crate packages LICENSE, NOTICE, $(basename "$readme")"
done <<<"$crates"

echo "check-release: ok"
