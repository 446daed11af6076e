#!/usr/bin/env bash
# README command 2: installs what is missing, builds, and runs the whole test
# suite (GoogleTest unit tests and integration tests against a real httpd).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh"
build_dir=${GTLS_BUILD_DIR:-$root/build}
ctest --test-dir "$build_dir" --output-on-failure "$@"
