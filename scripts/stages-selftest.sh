#!/usr/bin/env bash
# Tests scripts/stages.sh with tiny scripts (about 10 s, mostly sleeping): a passing run,
# a stage over its budget, a failing stage, the total budget, STAGES_BUDGETS=warn and a
# nested script (test-all.sh under .ci/run). Exits non-zero on the first wrong result.
#
#   bash scripts/stages-selftest.sh
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dir="$(mktemp -d "${TMPDIR:-/tmp}/stages-selftest.XXXXXX")"
trap 'rm -rf "$dir"' EXIT
# This test may itself run under a script that uses stages.sh: start clean.
unset STAGES_ROWS STAGES_PARENT STAGES_BUDGETS

fails=0
# run NAME EXPECTED_STATUS SCRIPT_BODY: writes the script, runs it, keeps its output
# in $dir/NAME.out (stdout and stderr together).
run() {
  local name=$1 want=$2 got=0
  {
    echo 'set -euo pipefail'
    echo ". '$here/stages.sh'"
    printf '%s\n' "$3"
  } >"$dir/$name.sh"
  bash "$dir/$name.sh" >"$dir/$name.out" 2>&1 || got=$?
  if [ "$got" != "$want" ]; then
    echo "FAIL $name: exit status $got, expected $want"
    sed 's/^/    /' "$dir/$name.out"
    fails=$((fails + 1))
  fi
}
# has NAME REGEX: the output of NAME matches the extended regular expression.
has() {
  if ! grep -Eq -- "$2" "$dir/$1.out"; then
    echo "FAIL $1: no line matches: $2"
    sed 's/^/    /' "$dir/$1.out"
    fails=$((fails + 1))
  fi
}
hasnt() {
  if grep -Eq -- "$2" "$dir/$1.out"; then
    echo "FAIL $1: a line matches: $2"
    sed 's/^/    /' "$dir/$1.out"
    fails=$((fails + 1))
  fi
}

run pass 0 '
stages_begin "pass" 60 "pass.sh"
stage one 10 "the first"
true
stage two 10
true'
has pass '^=== one: the first \(t\+0s, budget 10s\)$'
has pass '^=== stage times: pass \(budgets set in pass\.sh\)$'
has pass '^  one +[0-9]+ +10  OK$'
has pass '^  two +[0-9]+ +10  OK$'
has pass '^  total +[0-9]+ +60  OK$'
hasnt pass 'FAILED|OVER'

run over 1 '
stages_begin "over" 60 "over.sh"
stage quick 10
stage slow 1
sleep 2
stage after 10'
has over '^  slow +[23] +1  OVER$'
has over '^  after +[0-9]+ +10  OK$'
has over "^OVER BUDGET: stage 'slow' took [23] s, over its budget of 1 s \(budgets are set in over\.sh\)$"
has over '^FAILED: 1 over budget; every command passed'

run fail 7 '
stages_begin "fail" 60 "fail.sh"
stage good 10
stage bad 10
(exit 7)
stage never 10'
has fail '^  good +[0-9]+ +10  OK$'
has fail '^  bad +[0-9]+ +10  OK    <- failed here$'
hasnt fail 'never'
has fail '^  total +[0-9]+ +60  OK$'
has fail "^FAILED in stage 'bad', exit status 7$"

run total 1 '
stages_begin "total" 1 "total.sh"
stage long 10
sleep 2'
has total '^  long +[23] +10  OK$'
has total '^  total +[23] +1  OVER$'
has total '^OVER BUDGET: the whole run took [23] s, over its total budget of 1 s \(set in total\.sh\)$'

STAGES_BUDGETS=warn run warn 0 '
stages_begin "warn" 60 "warn.sh"
stage slow 1
sleep 2'
has warn '^  slow +[23] +1  OVER$'
has warn "^OVER BUDGET: stage 'slow'"
has warn 'not failing: STAGES_BUDGETS=warn'

# Nested: the inner script's stage goes over its budget and the inner script fails on
# it; the outer table shows the inner rows under the stage that ran it.
cat >"$dir/inner.sh" <<EOF
set -euo pipefail
. '$here/stages.sh'
stages_begin "inner" 60 "inner.sh"
stage in-a 10
stage in-slow 1
sleep 2
EOF
run nested 1 "
stages_begin 'outer' 60 'outer.sh'
stage first 10
stage 'runs inner' 30
bash '$dir/inner.sh'
stage later 10"
has nested '^=== inner: 2 stages in [23] s \(budget 60 s\); their times are in the summary'
has nested '^=== stage times: outer \(budgets set in outer\.sh, inner\.sh\)$'
has nested '^  first +[0-9]+ +10  OK$'
has nested '^  runs inner +[23] +30  OK    <- failed here$'
has nested '^    in-a +[0-9]+ +10  OK$'
has nested '^    in-slow +[23] +1  OVER$'
hasnt nested '^  later'
has nested "^OVER BUDGET: stage 'runs inner' > 'in-slow' took [23] s, over its budget of 1 s \(budgets are set in inner\.sh\)$"
has nested "^FAILED in stage 'runs inner' \(its stages went over budget\), exit status 1$"
# The order: the inner rows come right after the row of the stage that ran them.
if ! grep -A2 -E '^  runs inner ' "$dir/nested.out" | tail -n 1 | grep -Eq '^    in-slow '; then
  echo "FAIL nested: the inner rows are not under 'runs inner'"
  fails=$((fails + 1))
fi

# Nested, the inner script fails in a stage: the outer names both stages.
cat >"$dir/inner2.sh" <<EOF
set -euo pipefail
. '$here/stages.sh'
stages_begin "inner" 60 "inner.sh"
stage in-ok 10
stage in-bad 10
false
EOF
run nested-fail 1 "
stages_begin 'outer' 60 'outer.sh'
stage 'runs inner' 30
bash '$dir/inner2.sh'"
has nested-fail '^    in-bad +[0-9]+ +10  OK    <- failed here$'
has nested-fail "^FAILED in stage 'runs inner' \(its stage 'in-bad' failed\), exit status 1$"

if [ "$fails" != 0 ]; then
  echo "stages-selftest: $fails failed checks"
  exit 1
fi
echo "stages-selftest: all checks passed"
