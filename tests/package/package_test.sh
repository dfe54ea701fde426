#!/usr/bin/env bash
# Installs this build into a temporary prefix, then builds a program outside
# the tree against it both ways, with find_package(weft) and with
# pkg-config, and runs them. Usage: package_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1
src=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
prefix="$work/prefix"

cmake --install "$build" --prefix "$prefix" > "$work/install.log"
# Public headers only: nothing from any module's src/.
if find "$prefix/include" -name '*.h' | xargs grep -l '#include "[a-z_]*\.h"' | grep -v '^$' > "$work/private.txt"; then
  echo "FAIL: installed headers include private ones:"; cat "$work/private.txt"; exit 1
fi
[ -x "$prefix/bin/weft" ] || { echo "FAIL: no bin/weft"; exit 1; }

# CMake: find_package(weft), C++ and C consumers.
cmake -S "$src/tests/package/consumer" -B "$work/cmake-build" -G Ninja \
  -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release > "$work/cmake.log" 2>&1 \
  || { cat "$work/cmake.log"; echo "FAIL: configure against the installed package"; exit 1; }
cmake --build "$work/cmake-build" > "$work/build.log" 2>&1 \
  || { cat "$work/build.log"; echo "FAIL: build against the installed package"; exit 1; }
"$work/cmake-build/consumer"
LD_LIBRARY_PATH="$prefix/lib" "$work/cmake-build/c_consumer"

# pkg-config.
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
c++ -o "$work/pc-consumer" "$src/tests/package/consumer/consumer.cc" \
  $(pkg-config --cflags --libs weft) \
  || { echo "FAIL: build with pkg-config"; exit 1; }
"$work/pc-consumer"
echo "1 passed, 0 failed"
