#!/usr/bin/env bash
# Two `weft edit` sessions against one node, driven as a person would:
# tmux send-keys types into each, capture-pane reads the screens. Both
# screens must show the same text and each other's names.
# Usage: edit_tmux_test.sh WEFT_BINARY
set -euo pipefail
weft=$1
work=$(mktemp -d)
socket="weft-edit-test-$$"
tmux_() { tmux -L "$socket" "$@"; }
cleanup() {
  tmux_ kill-server 2>/dev/null || true
  [ -n "${node:-}" ] && kill "$node" 2>/dev/null && wait "$node" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# Waits are for what the screens show, with a deadline generous enough for
# a sanitizer build on a two-core machine with another process keeping one
# core busy: only a broken editor or node should ever reach it.
deadline_s=60

# Waits until pane $1's screen contains $2.
wait_for() {
  local until=$((SECONDS + deadline_s))
  while [ "$SECONDS" -lt "$until" ]; do
    if tmux_ capture-pane -p -t "$1" | grep -qF -- "$2"; then return 0; fi
    sleep 0.05  # polling a screen: there is no event to wait on
  done
  echo "FAIL: pane $1 never showed '$2' in ${deadline_s} s; it shows:"
  tmux_ capture-pane -p -t "$1"
  return 1
}

# Waits until pane $1's screen no longer contains $2.
wait_gone() {
  local until=$((SECONDS + deadline_s))
  while [ "$SECONDS" -lt "$until" ]; do
    if ! tmux_ capture-pane -p -t "$1" | head -n 8 | grep -qF -- "$2"; then return 0; fi
    sleep 0.05
  done
  echo "FAIL: pane $1 still shows '$2' after ${deadline_s} s"
  tmux_ capture-pane -p -t "$1"
  return 1
}

"$weft" node --listen 127.0.0.1:0 --data "$work/node" 2> "$work/node.log" &
node=$!
until=$((SECONDS + deadline_s))
while [ "$SECONDS" -lt "$until" ]; do
  port=$(grep -o 'listening on 127.0.0.1:[0-9]*' "$work/node.log" | grep -o '[0-9]*$' || true)
  [ -n "$port" ] && break
  sleep 0.05  # the log is a file: poll it
done
[ -n "$port" ] || { echo "FAIL: node did not start"; cat "$work/node.log"; exit 1; }

tmux_ new-session -d -s alice -x 80 -y 10 "$weft edit --connect 127.0.0.1:$port --doc shared --name alice"
tmux_ new-session -d -s bob -x 80 -y 10 "$weft edit --connect 127.0.0.1:$port --doc shared --name bob"
wait_for alice "peers: bob"
wait_for bob "peers: alice"

tmux_ send-keys -t alice "hello"
wait_for bob "hello"
tmux_ send-keys -t bob " world"
wait_for alice "hello world"
tmux_ send-keys -t alice Enter "second line"
wait_for bob "second line"
# Backspace on bob's side, and alice sees it.
tmux_ send-keys -t bob BSpace BSpace
wait_for alice "second li"
tmux_ send-keys -t bob "ne!"
wait_for alice "second line!"
# Undo and redo on alice's side, seen on bob's.
tmux_ send-keys -t alice "X"
wait_for bob "line!X"
tmux_ send-keys -t alice C-z
wait_gone bob "line!X"
wait_for bob "second line!"
tmux_ send-keys -t alice C-y
wait_for bob "line!X"
alice_screen=$(tmux_ capture-pane -p -t alice | head -3)
bob_screen=$(tmux_ capture-pane -p -t bob | head -3)
if [ "$alice_screen" != "$bob_screen" ]; then
  echo "FAIL: the screens differ"; echo "$alice_screen"; echo "---"; echo "$bob_screen"; exit 1
fi
echo "$alice_screen"
tmux_ send-keys -t alice C-q
tmux_ send-keys -t bob C-q
echo "1 passed, 0 failed"
