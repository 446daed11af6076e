#!/usr/bin/env bash
# Builds the Debian binary package libapache2-mod-gtls_*.deb into
# build/packages/ from packaging/debian/, with dpkg-buildpackage and
# debhelper's apache2 addon, then runs lintian on it.
#   packaging/build-deb.sh            build and check
#   packaging/build-deb.sh --no-lintian
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
run_lintian=1
[[ ${1:-} == --no-lintian ]] && run_lintian=0

"$root/scripts/install-deps.sh"

version=$(dpkg-parsechangelog -l "$root/packaging/debian/changelog" -S Version)
out="$root/build/packages"
stage="$out/src/mod-gtls-$version"
rm -rf "$out/src"
mkdir -p "$stage"
# The source tree without build output or version control, and debian/ at its top.
tar -C "$root" --exclude=./.git --exclude='./build*' --exclude=__pycache__ -cf - . | tar -C "$stage" -xf -
rm -rf "$stage/packaging/debian"
cp -a "$root/packaging/debian" "$stage/debian"

(cd "$stage" && dpkg-buildpackage -us -uc -b -j"$(nproc)")
rm -f "$out"/libapache2-mod-gtls_*
mv "$out"/src/libapache2-mod-gtls_* "$out"/src/mod-gtls_* "$out"/ 2>/dev/null || true
deb=$(ls "$out"/libapache2-mod-gtls_"$version"_*.deb)
rm -rf "$out/src"

if (( run_lintian )); then
  # Errors fail the build; warnings are shown.
  lintian --fail-on error --tag-display-limit 0 "$deb"
fi
echo "$deb"
