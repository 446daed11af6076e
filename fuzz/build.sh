#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) from the module/core
# sources they test, into build/fuzz/bin/ (or $GTLS_FUZZ_DIR/bin/). Separate from
# the g++ CMake build: nothing under build/ other than build/fuzz/ is touched.
# Incremental: an object is rebuilt when its source, a header it includes or the
# flags changed. One compiler process at a time.
#   fuzz/build.sh [TARGET...]     default: every target
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${GTLS_FUZZ_DIR:-$root/build/fuzz}
cxx=${GTLS_FUZZ_CXX:-clang++-14}

# The module/core sources each target links, besides its own fuzz/TARGET.cc.
declare -A core_sources=(
  [ocsp_response_fuzzer]="clock.cc ocsp_response.cc"
  [directive_values_fuzzer]="directive_values.cc priorities.cc"
  [client_hello_fuzzer]="client_hello.cc priorities.cc"
  [client_hello_extension_fuzzer]="client_hello.cc"
)
all_targets=(ocsp_response_fuzzer directive_values_fuzzer client_hello_fuzzer client_hello_extension_fuzzer)
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=("${all_targets[@]}")

command -v "$cxx" >/dev/null || { echo "fuzz/build.sh: $cxx not found (scripts/install-deps.sh installs clang-14)" >&2; exit 1; }
read -r -a gnutls_cflags <<<"$(pkg-config --cflags gnutls)"
read -r -a gnutls_libs <<<"$(pkg-config --libs gnutls)"
# Everything is instrumented for coverage (fuzzer-no-link) and checked by ASan and
# UBSan; any UBSan report aborts, so libFuzzer keeps it as a crash.
# shellcheck disable=SC2054 # the commas are part of the flag
sanitizers=(-fsanitize=address,undefined -fno-sanitize-recover=undefined)
cxxflags=(-std=c++20 -g -O1 -fno-omit-frame-pointer -Wall -Wextra -Werror
          "${sanitizers[@]}" -fsanitize=fuzzer-no-link -I"$root/module" "${gnutls_cflags[@]}")
ldflags=("${sanitizers[@]}" -fsanitize=fuzzer)

mkdir -p "$out/obj/core" "$out/obj/fuzz" "$out/bin"
flags_stamp="$out/obj/flags"
flags_now="$cxx ${cxxflags[*]} | ${ldflags[*]}"
if [[ ! -f $flags_stamp || $(cat "$flags_stamp") != "$flags_now" ]]; then
  rm -f "$out"/obj/core/*.o "$out"/obj/fuzz/*.o
  printf '%s' "$flags_now" > "$flags_stamp"
fi

# up_to_date OUTPUT DEPFILE: OUTPUT exists and is newer than everything DEPFILE lists.
up_to_date() {
  local output=$1 depfile=$2 dep
  [[ -f $output && -f $depfile ]] || return 1
  # shellcheck disable=SC2013 # a depfile lists paths separated by blanks and line continuations
  for dep in $(sed -e 's/^[^:]*://' -e 's/\\$//' "$depfile"); do
    [[ -e $dep && ! $dep -nt $output ]] || return 1
  done
}

compile() {  # compile SOURCE OBJECT
  local source=$1 object=$2
  up_to_date "$object" "$object.d" && return 0
  echo "  CXX ${source#"$root"/}"
  "$cxx" "${cxxflags[@]}" -MMD -MF "$object.d" -c "$source" -o "$object"
}

for target in "${targets[@]}"; do
  [[ -n ${core_sources[$target]+set} ]] || { echo "fuzz/build.sh: unknown target $target (${all_targets[*]})" >&2; exit 2; }
  objects=()
  for source in ${core_sources[$target]}; do
    compile "$root/module/core/$source" "$out/obj/core/${source%.cc}.o"
    objects+=("$out/obj/core/${source%.cc}.o")
  done
  compile "$root/fuzz/$target.cc" "$out/obj/fuzz/$target.o"
  objects+=("$out/obj/fuzz/$target.o")
  binary="$out/bin/$target"
  relink=0
  [[ -f $binary ]] || relink=1
  for object in "${objects[@]}"; do [[ $object -nt $binary ]] && relink=1; done
  if [[ $relink -eq 1 ]]; then
    echo "  LD  ${binary#"$root"/}"
    "$cxx" "${ldflags[@]}" "${objects[@]}" "${gnutls_libs[@]}" -o "$binary"
  fi
done
