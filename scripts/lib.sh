# Shared by scripts/demo and scripts/test: install what is missing, then
# configure and build a preset incrementally. Sourced, not run.
set -euo pipefail

WEFT_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export WEFT_ROOT

# Debian packages the build needs. Keep this list and README.md in step.
WEFT_PACKAGES=(
  cmake ninja-build g++ clang libclang-rt-14-dev pkg-config
  libprotobuf-dev protobuf-compiler libuv1-dev
  libgtest-dev libgmock-dev libbenchmark-dev libboost-dev
  zlib1g-dev libssl-dev nlohmann-json3-dev libncurses-dev tmux python3
  libhiredis-dev redis-server
  libwslay-dev libhttp-parser-dev
  emscripten node-acorn nodejs chromium
)

# Debian's emscripten finds its optimizer's parser (node-acorn) only here.
export NODE_PATH="${NODE_PATH:+$NODE_PATH:}/usr/share/nodejs"

weft_ensure_packages() {
  local missing=()
  local p
  for p in "${WEFT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  # npm ships inside some nodejs builds and as Debian's `npm` beside others:
  # ask for the package only when the command is missing.
  command -v npm >/dev/null 2>&1 || missing+=(npm)
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "weft: installing missing packages: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# weft_build PRESET [TARGET...]: configure (every time, so the preset's
# settings win over an older cache), then build incrementally. With
# emscripten installed and an engine that builds for WebAssembly, the
# release and debug builds also build the wasm engine and the page
# (WEFT_BUILD_WEB=AUTO) and register the web and browser tests.
weft_build() {
  local preset=$1
  shift
  cd "$WEFT_ROOT"
  cmake --preset "$preset" >/dev/null
  if [ $# -gt 0 ]; then
    cmake --build --preset "$preset" --target "$@"
  else
    cmake --build --preset "$preset"
  fi
}
