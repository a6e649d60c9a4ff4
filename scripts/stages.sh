# shellcheck shell=bash
# Stage times and budgets for .ci/run and scripts/test-all.sh. Sourced, not run:
#
#   . scripts/stages.sh
#   stages_begin "CI" 2700 ".ci/run"      # label, total budget (s), where budgets live
#   stage clippy 600 "cargo clippy -D warnings"
#   cargo clippy ...
#   stage tests 900
#   cargo test ...
#
# `stage NAME BUDGET [WHAT]` ends the stage before it (its time is recorded) and starts
# NAME with a budget of BUDGET seconds; WHAT is only printed in the stage's header. An
# EXIT trap (set by stages_begin; the sourcing script must not set its own) ends the
# last stage and prints one line per stage: name, seconds, budget, OK or OVER, and the
# total against the total budget. This happens on success and on failure: on failure it
# names the stage that was running and keeps the exit status. A run whose commands all
# passed fails (status 1) when a stage or the total went over its budget, naming the
# stage, its time, its budget and the file that holds the budgets.
# STAGES_BUDGETS=warn reports stages over budget without failing (a slow laptop).
#
# Nesting (one level): stages_begin exports STAGES_ROWS (a file) and `stage` exports
# STAGES_PARENT. A script started during a stage that sources this file too (test-all.sh
# under .ci/run) appends its rows to that file instead of printing its own table; the
# outer script prints them indented under the stage that ran it, checks their budgets
# too and names the inner stage that failed. The inner script still fails on its own
# budgets, so its caller's stage fails as well.
#
# Needs bash 4.4 or later and `date +%s`; times are whole seconds.

stages_begin() {
  if [ "$#" -ne 3 ]; then
    echo "stages.sh: usage: stages_begin LABEL TOTAL_BUDGET_SECONDS WHERE_BUDGETS_LIVE" >&2
    exit 2
  fi
  _stages_check_budget "total" "$2"
  _st_label=$1
  _st_total_budget=$2
  _st_where=$3
  _st_t0=$(date +%s)
  _st_names=()
  _st_budgets=()
  _st_secs=()
  _st_cur=-1
  _st_cur_start=$_st_t0
  if [ -n "${STAGES_ROWS:-}" ] && [ -n "${STAGES_PARENT:-}" ]; then
    _st_nested=1
    _st_rows=$STAGES_ROWS
    _st_parent=$STAGES_PARENT
  else
    _st_nested=0
    _st_rows=$(mktemp "${TMPDIR:-/tmp}/stages.XXXXXX")
    _st_parent=
    export STAGES_ROWS=$_st_rows
  fi
  trap '_stages_exit $?' EXIT
}

stage() {
  if [ "$#" -lt 2 ] || [ "$#" -gt 3 ]; then
    echo "stages.sh: usage: stage NAME BUDGET_SECONDS [WHAT]" >&2
    exit 2
  fi
  case "$1" in *$'\t'*) echo "stages.sh: a stage name cannot hold a tab" >&2; exit 2 ;; esac
  _stages_check_budget "$1" "$2"
  _stages_end_current 0
  _st_cur=${#_st_names[@]}
  _st_names+=("$1")
  _st_budgets+=("$2")
  _st_secs+=("")
  _st_cur_start=$(date +%s)
  if [ "$_st_nested" = 0 ]; then export STAGES_PARENT=$_st_cur; fi
  printf '\n=== %s%s (t+%ss, budget %ss)\n' "$1" "${3:+: $3}" \
    "$((_st_cur_start - _st_t0))" "$2"
}

_stages_check_budget() {
  case "$2" in
    '' | *[!0-9]*)
      echo "stages.sh: the budget of '$1' must be a whole number of seconds, not '$2'" >&2
      exit 2
      ;;
  esac
}

# Records the running stage's time; $1 is the script's exit status (non-zero: the stage
# failed). A nested script appends the row to the outer script's file at once, so the
# rows of finished stages survive even if it is killed later.
_stages_end_current() {
  local i=$_st_cur now status
  if [ "$i" -lt 0 ] || [ -n "${_st_secs[$i]}" ]; then return 0; fi
  now=$(date +%s)
  _st_secs[$i]=$((now - _st_cur_start))
  status=OK
  if [ "${_st_secs[$i]}" -gt "${_st_budgets[$i]}" ]; then status=OVER; fi
  if [ "$1" != 0 ]; then status="$status FAILED"; fi
  if [ "$status" = OVER ]; then
    echo "stages.sh: stage '${_st_names[$i]}' took ${_st_secs[$i]} s, over its budget of ${_st_budgets[$i]} s (see the summary at the end)" >&2
  fi
  if [ "$_st_nested" = 1 ]; then
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$_st_parent" "${_st_names[$i]}" "${_st_secs[$i]}" \
      "${_st_budgets[$i]}" "$status" "$_st_where" >>"$_st_rows"
  fi
}

_stages_row() { # INDENT NAME SECONDS BUDGET STATUS
  local result=${5%% *}
  case "$5" in *FAILED*) result=$(printf '%-4s  <- failed here' "$result") ;; esac
  printf '  %-*s %7s %7s  %s\n' "$_st_width" "$1$2" "$3" "$4" "$result"
}

_stages_exit() {
  local rc=$1 i n total over=() failed= inner_failed= inner_over= name secs budget status parent where
  local line
  set +e
  _stages_end_current "$rc"
  total=$(($(date +%s) - _st_t0))
  if [ "$rc" != 0 ] && [ "$_st_cur" -ge 0 ]; then failed=${_st_names[$_st_cur]}; fi

  if [ "$_st_nested" = 1 ]; then
    # The outer script prints the table; say where it is and what went wrong here.
    echo
    echo "=== $_st_label: ${#_st_names[@]} stages in $total s (budget $_st_total_budget s);" \
      "their times are in the summary of the run that started this one"
    for ((i = 0; i < ${#_st_names[@]}; i++)); do
      if [ "${_st_secs[$i]}" -gt "${_st_budgets[$i]}" ]; then
        over+=("stage '${_st_names[$i]}' took ${_st_secs[$i]} s, over its budget of ${_st_budgets[$i]} s (budgets are set in $_st_where)")
      fi
    done
  else
    n=${#_st_names[@]}
    _st_width=5
    for ((i = 0; i < n; i++)); do
      if [ "${#_st_names[$i]}" -gt "$_st_width" ]; then _st_width=${#_st_names[$i]}; fi
    done
    local wheres=$_st_where
    while IFS=$'\t' read -r parent name secs budget status where; do
      if [ $((${#name} + 2)) -gt "$_st_width" ]; then _st_width=$((${#name} + 2)); fi
      case ", $wheres," in *", $where,"*) ;; *) wheres="$wheres, $where" ;; esac
    done <"$_st_rows"
    echo
    echo "=== stage times: $_st_label (budgets set in $wheres)"
    printf '  %-*s %7s %7s  %s\n' "$_st_width" stage seconds budget result
    for ((i = 0; i < n; i++)); do
      status=OK
      if [ "${_st_secs[$i]}" -gt "${_st_budgets[$i]}" ]; then
        status=OVER
        over+=("stage '${_st_names[$i]}' took ${_st_secs[$i]} s, over its budget of ${_st_budgets[$i]} s (budgets are set in $_st_where)")
      fi
      if [ "$i" = "$_st_cur" ] && [ -n "$failed" ]; then status="$status FAILED"; fi
      _stages_row "" "${_st_names[$i]}" "${_st_secs[$i]}" "${_st_budgets[$i]}" "$status"
      while IFS=$'\t' read -r parent name secs budget status where; do
        [ "$parent" = "$i" ] || continue
        _stages_row "  " "$name" "$secs" "$budget" "$status"
        case "$status" in OVER*)
          over+=("stage '${_st_names[$i]}' > '$name' took $secs s, over its budget of $budget s (budgets are set in $where)")
          [ "$i" = "$_st_cur" ] && [ -z "$inner_failed" ] && inner_over=1 ;;
        esac
        case "$status" in *FAILED*) [ "$i" = "$_st_cur" ] && inner_failed=$name ;; esac
      done <"$_st_rows"
    done
    status=OK
    if [ "$total" -gt "$_st_total_budget" ]; then status=OVER; fi
    _stages_row "" total "$total" "$_st_total_budget" "$status"
    rm -f "$_st_rows"
  fi
  if [ "$total" -gt "$_st_total_budget" ]; then
    over+=("the whole run took $total s, over its total budget of $_st_total_budget s (set in $_st_where)")
  fi

  for line in "${over[@]}"; do
    echo "OVER BUDGET: $line" >&2
  done
  if [ "$rc" != 0 ]; then
    if [ -n "$failed" ]; then
      if [ -n "$inner_failed" ]; then
        failed="$failed' (its stage '$inner_failed' failed)"
      elif [ -n "$inner_over" ]; then
        failed="$failed' (its stages went over budget)"
      else
        failed="$failed'"
      fi
      echo "FAILED in stage '$failed, exit status $rc" >&2
    else
      echo "FAILED before the first stage, exit status $rc" >&2
    fi
  elif [ "${#over[@]}" -gt 0 ]; then
    if [ "${STAGES_BUDGETS:-}" = warn ]; then
      echo "stages over budget (not failing: STAGES_BUDGETS=warn)" >&2
    else
      echo "FAILED: ${#over[@]} over budget; every command passed. Make the slow step faster" \
        "or, if the time is expected, raise its budget where the line above says" \
        "(STAGES_BUDGETS=warn only reports)" >&2
      rc=1
    fi
  fi
  exit "$rc"
}
