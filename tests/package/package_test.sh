#!/usr/bin/env bash
# Installs this build into a temporary prefix, then builds programs outside
# the tree against it and runs them: C++ and C, with find_package(weft),
# and with pkg-config (weft for C++, weft-c for C). Usage:
# package_test.sh BUILD_DIR SOURCE_DIR
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

# pkg-config, C++: the consumer chooses its standard; weft.pc names none.
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
cxx_flags=$(pkg-config --cflags --libs weft)
case " $cxx_flags " in
  *" -std="*) echo "FAIL: weft.pc forces a standard: $cxx_flags"; exit 1 ;;
esac
c++ -std=c++20 -o "$work/pc-consumer" "$src/tests/package/consumer/consumer.cc" $cxx_flags \
  || { echo "FAIL: build with pkg-config"; exit 1; }
"$work/pc-consumer"

# pkg-config, C: weft-c.pc's flags are plain C; a C compiler builds and
# links against libweft.so with nothing else.
c_flags=$(pkg-config --cflags --libs weft-c)
case " $c_flags " in
  *"c++"* | *" -std="*) echo "FAIL: weft-c.pc carries C++ flags: $c_flags"; exit 1 ;;
esac
cc -std=c99 -Wall -Wextra -Werror -pedantic -o "$work/pc-c-consumer" \
  "$src/tests/package/consumer/c_consumer.c" $c_flags \
  || { echo "FAIL: build a C program with pkg-config weft-c"; exit 1; }
LD_LIBRARY_PATH="$prefix/lib" "$work/pc-c-consumer"
echo "1 passed, 0 failed"
