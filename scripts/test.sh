#!/usr/bin/env bash
# README command 2: installs what is missing, builds, and runs the whole test
# suite (GoogleTest unit tests and integration tests against a real httpd).
#   scripts/test.sh              normal build in build/
#   scripts/test.sh --sanitize   ASan+UBSan build in build-asan/, same tests
# Other arguments go to ctest (e.g. -R stapling).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cmake_args=()
if [[ ${1:-} == --sanitize ]]; then
  shift
  export GTLS_BUILD_DIR=${GTLS_BUILD_DIR:-$root/build-asan}
  export CMAKE_BUILD_TYPE=${CMAKE_BUILD_TYPE:-Debug}
  cmake_args=(-DGTLS_SANITIZE=ON)
fi
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh" "${cmake_args[@]}"
build_dir=${GTLS_BUILD_DIR:-$root/build}
ctest --test-dir "$build_dir" --output-on-failure "$@"
