#!/usr/bin/env bash
# Local replay of a sequential trace, three ways in one run, interleaved
# ROUNDS times so a busy machine slows them alike: the native engine (weft
# replay), the WebAssembly engine under Node.js (warm_replay.mjs) and
# diamond-types' wasm (the anchors' warm.mjs, from a scratch copy with its
# pinned packages). Prints each run, then medians and the two ratios.
# Usage: bench/web/compare.sh [TRACE] [ROUNDS]   (from the checkout, after a
# release build with WEFT_BUILD_WEB=ON)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
trace=$(realpath "${1:-$root/../shared/traces/sequential/automerge-paper.json.gz}")
rounds=${2:-5}
weft=$root/build/release/demo/weft
site=${WEFT_WEB_SITE:-$root/build/release/web/site}
anchors=${WEFT_ANCHORS_COPY:-/tmp/weft-js-anchors}
if [ ! -d "$anchors/node_modules/diamond-types-node" ]; then
  rm -rf "$anchors" && cp -r "$root/../shared/anchors/js" "$anchors" && chmod -R u+w "$anchors"
  (cd "$anchors" && npm ci --no-audit --no-fund >/dev/null)
fi
native=() wasm=() dt=()
for ((r = 1; r <= rounds; r++)); do
  native+=("$("$weft" replay --repeat 7 "$trace" | sed -n 's/.*local \([0-9.]*\) ms.*/\1/p')")
  wasm+=("$(node --expose-gc "$root/bench/web/warm_replay.mjs" "$site" "$trace" 7 |
            sed -n 's/.*"median":\([0-9.]*\).*/\1/p')")
  dt+=("$(cd "$anchors" && node --expose-gc warm.mjs diamond-types "$trace" 7 |
          sed -n 's/.*"replayMs":{"median":\([0-9.]*\).*/\1/p')")
  echo "round $r: native ${native[-1]} ms, wasm ${wasm[-1]} ms, diamond-types ${dt[-1]} ms"
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
n=$(median "${native[@]}") w=$(median "${wasm[@]}") d=$(median "${dt[@]}")
echo "medians: native $n ms, wasm $w ms, diamond-types $d ms"
awk -v n="$n" -v w="$w" -v d="$d" \
  'BEGIN { printf "wasm / native = %.2fx (target <= 2), wasm / diamond-types = %.2fx (target <= 0.5)\n", w / n, w / d }'
