// The editor page: a <textarea> bound to a WeftDoc that WeftSync keeps in
// sync with document ?doc=NAME on the node that served the page. Typing
// becomes local edits (found by comparing the textarea with the text it
// showed); remote edits arrive as deltas and are applied to the textarea
// with the user's selection kept on its characters (anchors). Ctrl+Z /
// Ctrl+Shift+Z (Ctrl+Y) are the engine's undo and redo of this user's own
// edits. Other users' carets are drawn in a mirror of the text behind the
// textarea.
//
// URL: /?doc=NAME[&name=LABEL][#secret=SECRET]. A node with a secret asks
// for it; the page then shows a field for it (kept for this tab only).

import { init, WeftDoc } from './weft.js';
import { WeftSync } from './sync.js';

const params = new URLSearchParams(location.search);
const docName = params.get('doc') || 'welcome';
const label = params.get('name') || `guest ${Math.floor(Math.random() * 1000)}`;
const fromHash = new URLSearchParams(location.hash.slice(1)).get('secret');
if (fromHash !== null) {
  sessionStorage.setItem('weft-secret', fromHash);
  // Keep the secret out of the address bar and history.
  history.replaceState(null, '', location.pathname + location.search);
}

const editor = document.getElementById('editor');
const mirror = document.getElementById('mirror');
const statusEl = document.getElementById('status');
const peersEl = document.getElementById('peers');
const secretForm = document.getElementById('secret-form');
document.getElementById('doc-name').textContent = docName;

await init();
const doc = new WeftDoc();
const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/weft`;
const sync = new WeftSync(doc, { url, docName, label, secret: sessionStorage.getItem('weft-secret') });

// The text the textarea showed after the last edit we know of: the doc's.
let shown = '';
// The user's selection as anchors: it stays on its characters when others
// edit before it.
let selection = null;

function isHigh(c) { return c >= 0xd800 && c <= 0xdbff; }
function isLow(c) { return c >= 0xdc00 && c <= 0xdfff; }

// The edit that turned `before` into `after`: common prefix and suffix, cut
// so that no surrogate pair is split.
function diff(before, after) {
  let start = 0;
  const max = Math.min(before.length, after.length);
  while (start < max && before.charCodeAt(start) === after.charCodeAt(start)) start++;
  if (start > 0 && isHigh(before.charCodeAt(start - 1))) start--;
  let end = 0;
  while (end < max - start &&
    before.charCodeAt(before.length - 1 - end) === after.charCodeAt(after.length - 1 - end)) end++;
  if (end > 0 && isLow(before.charCodeAt(before.length - end))) end--;
  return { start, removed: before.length - start - end, inserted: after.slice(start, after.length - end) };
}

function rememberSelection() {
  selection = [doc.anchor(editor.selectionStart, 'left'), doc.anchor(editor.selectionEnd, 'left')];
  sync.setCursor(selection[1], selection[0]);
}

editor.addEventListener('input', () => {
  const { start, removed, inserted } = diff(shown, editor.value);
  if (removed > 0) doc.delete(start, removed);
  if (inserted.length > 0) doc.insert(start, inserted);
  shown = editor.value;
  sync.push();
  rememberSelection();
  drawCarets();
});

for (const type of ['select', 'keyup', 'mouseup', 'focus']) {
  editor.addEventListener(type, rememberSelection);
}

function undoOrRedo(undo) {
  if (undo) doc.undo(); else doc.redo();
  sync.push();
}

editor.addEventListener('keydown', (e) => {
  if (!(e.ctrlKey || e.metaKey)) return;
  const key = e.key.toLowerCase();
  if (key === 'z' || key === 'y') {
    e.preventDefault();
    undoOrRedo(key === 'z' && !e.shiftKey);
  }
});
editor.addEventListener('beforeinput', (e) => {
  if (e.inputType === 'historyUndo' || e.inputType === 'historyRedo') {
    e.preventDefault();
    undoOrRedo(e.inputType === 'historyUndo');
  }
});

// Remote edits, undo and redo: apply the delta to the textarea's text.
doc.onChange((delta) => {
  let text = shown;
  let at = 0;
  for (const step of delta) {
    if (step.retain !== undefined) at += step.retain;
    else if (step.insert !== undefined) {
      text = text.slice(0, at) + step.insert + text.slice(at);
      at += step.insert.length;
    } else text = text.slice(0, at) + text.slice(at + step.delete);
  }
  shown = text;
  editor.value = text;
  if (selection) editor.setSelectionRange(doc.resolve(selection[0]), doc.resolve(selection[1]));
  drawCarets();
});

// ---- Other users' carets: spans in a transparent copy of the text.

function colorOf(agent) {
  return `hsl(${Number(agent % 360n)} 70% 45%)`;
}

function drawCarets() {
  const carets = [];
  for (const [agent, p] of sync.peers) {
    carets.push({ pos: doc.resolve(p.cursor), agent, label: p.label || 'someone' });
  }
  carets.sort((a, b) => a.pos - b.pos);
  const parts = [];
  let at = 0;
  for (const c of carets) {
    parts.push(document.createTextNode(shown.slice(at, c.pos)));
    const span = document.createElement('span');
    span.className = 'caret';
    span.dataset.label = c.label;
    span.style.setProperty('--c', colorOf(c.agent));
    parts.push(span);
    at = c.pos;
  }
  parts.push(document.createTextNode(shown.slice(at) + '\n'));
  mirror.replaceChildren(...parts);
  mirror.scrollTop = editor.scrollTop;
  peersEl.textContent = carets.length ? `with ${carets.map((c) => c.label).join(', ')}` : '';
}
sync.onPresence(drawCarets);
editor.addEventListener('scroll', () => { mirror.scrollTop = editor.scrollTop; });

// ---- Status and the secret.

sync.onStatus((status, detail) => {
  statusEl.textContent = status;
  statusEl.className = status;
  statusEl.title = detail;
  secretForm.classList.toggle('shown', status === 'needs-secret' || status === 'auth-failed');
});
secretForm.addEventListener('submit', (e) => {
  e.preventDefault();
  const secret = document.getElementById('secret').value;
  sessionStorage.setItem('weft-secret', secret);
  sync.setSecret(secret);
});

editor.disabled = false;
editor.focus();
// For tests and the console.
window.weft = { doc, sync, docName };
