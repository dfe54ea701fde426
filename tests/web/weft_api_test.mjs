// WeftDoc (web/js/weft.js) over the WebAssembly engine, under Node.js: the
// UTF-16 boundary with characters outside the BMP, change deltas, anchors,
// undo/redo, snapshots, errors.
import assert from 'node:assert/strict';
import path from 'node:path';
import { before, test } from 'node:test';

import { decodeVersion, encodeVersion, init, WeftDoc, WeftError } from '../../web/js/weft.js';
import { SITE } from './harness.mjs';

before(async () => { await init(new URL(`file://${path.join(SITE, 'weft.wasm')}`)); });

// Applies a delta to a string, as an editor would.
function applyDelta(text, delta) {
  let at = 0;
  for (const s of delta) {
    if (s.retain !== undefined) at += s.retain;
    else if (s.insert !== undefined) {
      text = text.slice(0, at) + s.insert + text.slice(at);
      at += s.insert.length;
    } else text = text.slice(0, at) + text.slice(at + s.delete);
  }
  return text;
}

test('positions are UTF-16 code units, emoji count two', () => {
  const doc = new WeftDoc(1n);
  doc.insert(0, 'a😀b');
  assert.equal(doc.length, 4);
  doc.insert(3, '𝄞');  // after the emoji
  assert.equal(doc.text(), 'a😀𝄞b');
  assert.equal(doc.toCodePoints(5), 3);
  assert.equal(doc.toUtf16(3), 5);
  assert.throws(() => doc.insert(2, 'x'), (e) => e instanceof WeftError && e.code === 'invalid argument');
  assert.throws(() => doc.insert(99, 'x'), (e) => e.code === 'out of range');
  doc.delete(1, 2);
  assert.equal(doc.text(), 'a𝄞b');
  assert.equal(doc.length, 4);
  doc.free();
});

test('remote changes arrive as deltas in UTF-16 units that rebuild the text', () => {
  const a = new WeftDoc(1n);
  const b = new WeftDoc(2n);
  let shown = '';
  b.onChange((delta, origin) => {
    assert.equal(origin, 'remote');
    shown = applyDelta(shown, delta);
  });
  a.insert(0, '😀 hello 𝄞 world');
  b.apply(a.encodeSince(b.version()));
  assert.equal(shown, b.text());
  const v = b.version();
  a.delete(a.text().indexOf('hello'), 6);
  a.insert(a.length, ' ✓😀');
  b.apply(a.encodeSince(v));
  assert.equal(shown, '😀 𝄞 world ✓😀');
  assert.equal(shown, a.text());
});

test('undo and redo report their change; anchors follow their character', () => {
  const doc = new WeftDoc(3n);
  const events = [];
  let shown = '';
  doc.onChange((delta, origin) => {
    events.push(origin);
    shown = applyDelta(shown, delta);
  });
  doc.insert(0, 'one 😀 two');
  shown = doc.text();
  const caret = doc.anchor(6, 'right');  // before ' two'
  doc.insert(0, '>> ');  // local: the editor shows it itself
  shown = doc.text();
  assert.equal(doc.resolve(caret), 9);
  doc.undo();
  assert.equal(shown, 'one 😀 two');
  assert.ok(doc.canRedo);
  doc.redo();
  assert.equal(shown, '>> one 😀 two');
  assert.deepEqual(events, ['undo', 'redo']);
});

test('snapshots and versions round-trip; bad bytes throw and change nothing', () => {
  const doc = new WeftDoc(5n);
  doc.insert(0, 'keep 😀 me');
  const copy = WeftDoc.load(doc.snapshot(), 6n);
  assert.equal(copy.text(), 'keep 😀 me');
  assert.equal(copy.length, doc.length);
  const v = decodeVersion(doc.version());
  assert.deepEqual([...v], [[5n, 9]]);
  assert.deepEqual(encodeVersion(v), doc.version());
  assert.throws(() => copy.apply(new Uint8Array([1, 2, 3])), (e) => e.code === 'corruption');
  assert.equal(copy.text(), 'keep 😀 me');
  assert.throws(() => WeftDoc.load(new Uint8Array([9, 9, 9])), WeftError);
});

test('encodeSince with until cuts an update into pieces that apply in order', () => {
  const a = new WeftDoc(7n);
  const versions = [a.version()];
  for (const w of ['one ', 'two ', 'three']) {
    a.insert(a.length, w);
    versions.push(a.version());
  }
  const b = new WeftDoc(8n);
  for (let i = 1; i < versions.length; i++) {
    b.apply(a.encodeSince(versions[i - 1], versions[i]));
    assert.deepEqual(b.version(), versions[i]);
  }
  assert.equal(b.text(), 'one two three');
});
