#!/usr/bin/env bash
# Runs every libFuzzer target (tests/fuzz/: CSV framing and decoding, the
# NDJSON and JSON framers with the decoder, pgoutput) for a while each, built
# with clang, AddressSanitizer and UBSan into build-fuzz/. Installs clang and
# its fuzzer runtime when missing.
#   scripts/fuzz.sh                 # 60 s per target
#   scripts/fuzz.sh --seconds 3600  # an hour per target
#   scripts/fuzz.sh --target fuzz_csv --seconds 600
# Each target keeps its corpus in build-fuzz/corpus/<target>/ (grown across
# runs on one machine) and starts from the inputs in tests/fuzz/regressions/
# <target>/ too: every input that once found a defect, run again each time. A crash leaves its input as build-fuzz/crash-*; replay
# it with `build-fuzz/tests/fuzz/<target> <file>`.
# Prints one line per target and a closing "N passed, N failed"; exits 1 when
# a target found a crash.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

seconds=60
only=
while (($#)); do
  case "$1" in
    -h|--help) sluice_usage "${BASH_SOURCE[0]}"; exit 0 ;;
    --seconds) seconds=$2; shift 2 ;;
    --target) only=$2; shift 2 ;;
    *) sluice_die "unknown argument $1 (see --help)" ;;
  esac
done

root=$(sluice_repo_root)
cd "$root"
scripts/install-deps.sh clang-14 libclang-rt-14-dev

build=$root/build-fuzz
targets=(fuzz_csv fuzz_record_reader fuzz_pgoutput)
if [[ -n "$only" ]]; then targets=("$only"); fi
sluice_ccache "$root"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++-14 \
  -DSLUICE_FUZZ=ON -DSLUICE_BUILD_TESTS=ON -DSLUICE_WERROR="${SLUICE_WERROR:-OFF}" "${sluice_launcher[@]}" >/dev/null
cmake --build "$build" -j "${SLUICE_JOBS:-$(nproc)}" --target "${targets[@]}"

# Two targets at a time (SLUICE_FUZZ_JOBS): each is one process on one core.
run_target() {
  local target=$1 corpus=$build/corpus/$1 seeds=()
  mkdir -p "$corpus"
  # -max_len: records and CSV rows longer than 4 KiB add nothing the buffer
  # tests (small initial buffers) do not already reach.
  [[ -d "$root/tests/fuzz/regressions/$target" ]] && seeds=("$root/tests/fuzz/regressions/$target")
  cd "$build" && "tests/fuzz/$target" "$corpus" "${seeds[@]}" -max_total_time="$seconds" -max_len=4096 \
    -print_final_stats=1 >"$build/$target.log" 2>&1
}
for target in "${targets[@]}"; do
  while (($(jobs -rp | wc -l) >= ${SLUICE_FUZZ_JOBS:-2})); do wait -n || true; done
  rm -f "$build/$target.status"
  (if run_target "$target"; then echo 0; else echo $?; fi >"$build/$target.status") &
done
wait
passed=0
failed=0
for target in "${targets[@]}"; do
  log=$build/$target.log
  if [[ "$(cat "$build/$target.status" 2>/dev/null)" == 0 ]]; then
    runs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' || echo '?')
    echo "fuzz $target: ${seconds} s, $runs inputs, no crash"
    passed=$((passed + 1))
  else
    echo "fuzz $target: FAILED (a crash or a broken invariant); its log:"
    tail -n 60 "$log"
    ls "$build"/crash-* "$build"/leak-* "$build"/timeout-* 2>/dev/null || true
    failed=$((failed + 1))
  fi
done
echo "$passed passed, $failed failed"
((failed == 0))
