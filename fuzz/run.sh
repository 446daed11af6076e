#!/usr/bin/env bash
# Installs what is missing, builds the fuzzers (fuzz/build.sh), makes the seed
# corpora (fuzz/make-corpora.sh) and runs each target, or one, for SECONDS
# (default 300; --smoke: 20 each), one process at a time. Prints executions and
# libFuzzer's coverage (cov: edges, ft: features) per target; exits 1 when a
# target crashed, leaked, hit UB, timed out or ran out of memory (the input is
# left in build/fuzz/artifacts/TARGET/).
#   fuzz/run.sh [--smoke] [TARGET [SECONDS]]     TARGET "all": every target, for SECONDS each
# Everything lives in build/fuzz/ (or $GTLS_FUZZ_DIR): bin/, seeds/, corpus/
# (what the fuzzers found, kept between runs), logs/, artifacts/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${GTLS_FUZZ_DIR:-$root/build/fuzz}
export GTLS_FUZZ_DIR=$out

all_targets=(ocsp_response_fuzzer directive_values_fuzzer client_hello_fuzzer client_hello_extension_fuzzer)
seconds=300
if [[ ${1:-} == --smoke ]]; then
  seconds=20
  shift
fi
targets=("${all_targets[@]}")
if [[ $# -ge 1 && $1 != all ]]; then
  [[ " ${all_targets[*]} " == *" $1 "* ]] || { echo "usage: fuzz/run.sh [--smoke] [TARGET|all [SECONDS]]; targets: ${all_targets[*]}" >&2; exit 2; }
  targets=("$1")
fi
[[ $# -ge 2 ]] && seconds=$2
[[ $seconds =~ ^[0-9]+$ && $seconds -gt 0 ]] || { echo "fuzz/run.sh: SECONDS must be a positive number" >&2; exit 2; }

"$root/scripts/install-deps.sh"
echo "Building the fuzzers (clang, ASan+UBSan) in ${out#"$root"/}/bin"
"$root/fuzz/build.sh" "${targets[@]}"
"$root/fuzz/make-corpora.sh" "$out" >/dev/null

# Per target: the longest input worth trying, and extra libFuzzer flags.
declare -A max_len=(
  [ocsp_response_fuzzer]=8192          # the fixture responses are 0.3 to 2 KiB
  [directive_values_fuzzer]=1024
  [client_hello_fuzzer]=4096           # two ClientHellos (HelloRetryRequest) fit
  [client_hello_extension_fuzzer]=1024
)
declare -A extra_flags=(
  [ocsp_response_fuzzer]="-dict=$root/fuzz/ocsp_response.dict"
  [directive_values_fuzzer]="-dict=$root/fuzz/directive_values.dict"
)
export GTLS_OCSP_FIXTURES=$out/ocsp-fixtures
symbolizer=$(command -v llvm-symbolizer-14 || command -v llvm-symbolizer || true)
[[ -n $symbolizer ]] && export ASAN_SYMBOLIZER_PATH=$symbolizer
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:allocator_may_return_null=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

mkdir -p "$out/logs"
failed=()
summary=()
for target in "${targets[@]}"; do
  corpus=$out/corpus/$target
  artifacts=$out/artifacts/$target
  log=$out/logs/$target.log
  mkdir -p "$corpus" "$artifacts"
  echo "Fuzzing $target for ${seconds}s (log: ${log#"$root"/})"
  set +e
  # shellcheck disable=SC2086 # extra_flags holds whole flags
  "$out/bin/$target" -max_total_time="$seconds" -timeout=30 -rss_limit_mb=2048 -max_len="${max_len[$target]}" \
    -print_final_stats=1 -artifact_prefix="$artifacts/" ${extra_flags[$target]:-} \
    "$corpus" "$out/seeds/$target" >"$log" 2>&1
  rc=$?
  set -e
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  last=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(sed -n 's/.* corp: \([0-9]*\)\/.*/\1/p' <<<"$last")
  rate=$(( ${execs:-0} / seconds ))
  if [[ $rc -eq 0 ]]; then
    verdict=ok
  else
    verdict="FAILED (exit $rc)"
    failed+=("$target")
    echo "--- $target failed; the end of its log:" >&2
    grep -vE '^#[0-9]+ ' "$log" | tail -60 >&2
    echo "--- inputs kept in ${artifacts#"$root"/}/:" >&2
    ls -1 "$artifacts" >&2 || true
  fi
  summary+=("$(printf '%-30s %6ss  execs %10s (%s/s)  cov %5s  ft %6s  corpus %5s  %s' \
    "$target" "$seconds" "${execs:-?}" "$rate" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$verdict")")
done

echo
printf '%s\n' "${summary[@]}" | tee "$out/logs/last-run.txt"
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "fuzz/run.sh: ${failed[*]} failed" >&2
  exit 1
fi
