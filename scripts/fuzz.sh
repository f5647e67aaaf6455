#!/usr/bin/env bash
# Fuzzes the parsers of tests/fuzz/targets.cpp (data files, GPT-2's vocabulary, checkpoints, the
# command line) with libFuzzer under ASan + UBSan, for a fixed time per target, starting from
# each target's seeds and its committed corpus (tests/fuzz/corpus/<target>/). Any crash,
# sanitizer report or broken invariant fails the run and leaves the input in the work folder.
#   bash scripts/fuzz.sh [--seconds N] [--update] [TARGET...]
#     --seconds N   per target (default 60); two targets run at a time
#     --update      merge the inputs that reached new code into tests/fuzz/corpus/ (commit them:
#                   fanion_tests runs every target over that corpus in every build)
# Builds build-asan/ first (scripts/sanitize.sh --build).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$FANION_ROOT"
seconds=60 update=0 targets=()
while (($#)); do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    --update) update=1; shift ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "fuzz: unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
[[ "$seconds" =~ ^[1-9][0-9]*$ ]] || { echo "fuzz: --seconds: expected a positive integer, got '$seconds'" >&2; exit 2; }
dir=${FANION_BUILD_DIR:-build-asan}
bash scripts/sanitize.sh --build >/dev/null
if ((${#targets[@]} == 0)); then
  for f in "$dir"/fuzz_*; do targets+=("${f##*/fuzz_}"); done
fi
for t in "${targets[@]}"; do
  [ -x "$dir/fuzz_$t" ] || { echo "fuzz: no target '$t' ($dir/fuzz_$t is missing)" >&2; exit 2; }
done

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_odr_violation=0}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$FANION_ROOT/tests/sanitize.supp:print_suppressions=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
work=$(mktemp -d /tmp/fanion-fuzz.XXXXXX)
echo "fuzz: ${#targets[@]} targets, ${seconds} s each, 2 at a time; work folder $work"

fuzz_one() {
  local t=$1 w=$work/$1 rc=0
  mkdir -p "$w/new" "$w/seeds" "tests/fuzz/corpus/$t"
  FANION_FUZZ_SEED_DIR=$w/seeds "$dir/fuzz_$t" -max_total_time="$seconds" -timeout=20 \
    -rss_limit_mb=4096 -print_final_stats=1 -artifact_prefix="$w/" \
    "$w/new" "$w/seeds" "tests/fuzz/corpus/$t" >"$w/log" 2>&1 || rc=$?
  echo "$rc" >"$w/rc"
}
status=0
pids=()
for t in "${targets[@]}"; do
  fuzz_one "$t" & pids+=($!)
  if ((${#pids[@]} == 2)); then wait "${pids[0]}" || true; pids=("${pids[1]}"); fi
done
wait || true

printf '%-24s %12s %10s %8s %s\n' target executions "exec/s" new result
for t in "${targets[@]}"; do
  w=$work/$t
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$w/log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$w/log" | tail -1)
  new=$(find "$w/new" -type f | wc -l)
  found=$(find "$w" -maxdepth 1 \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' \
           -o -name 'oom-*' \) | head -1)
  result=ok
  if [ -n "$found" ] || [ "$(cat "$w/rc" 2>/dev/null)" != 0 ] || [ -z "$runs" ]; then
    result="FAILED (exit status $(cat "$w/rc" 2>/dev/null)): see $w/log${found:+ and the input $found}"
    status=1
  fi
  printf '%-24s %12s %10s %8s %s\n' "$t" "${runs:-?}" "${rate:-?}" "$new" "$result"
  if ((update)) && [ "$result" = ok ]; then
    before=$(find "tests/fuzz/corpus/$t" -type f | wc -l)
    "$dir/fuzz_$t" -merge=1 "tests/fuzz/corpus/$t" "$w/new" "$w/seeds" >>"$w/log" 2>&1
    echo "    corpus: $before -> $(find "tests/fuzz/corpus/$t" -type f | wc -l) inputs"
  fi
done
exit "$status"
