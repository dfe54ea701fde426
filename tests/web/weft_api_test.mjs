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

// Local edits of BMP-only text are queued in weft.js and applied in
// batches: the queue fills (edits and text), two documents take turns,
// long and non-ASCII texts go in, and a character outside the BMP
// arriving mid-queue turns the document to the unqueued path; at every
// read the text must be the one a plain string model gives.
test('queued local edits match a string model across flushes', () => {
  let seed = 7;
  const rand = (n) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return (seed >>> 8) % n;
  };
  const pieces = ['a', 'xyz', 'é', '€uro', ' ', '\n', 'ab'.repeat(6000), '😀', 'q'];
  const docs = [new WeftDoc(1n), new WeftDoc(2n)];
  const models = ['', ''];
  for (let step = 0; step < 12000; step++) {
    const k = rand(2);
    const doc = docs[k];
    let m = models[k];
    if (m.length > 0 && rand(3) === 0) {
      // Delete whole characters: never split a surrogate pair.
      let from = rand(m.length);
      if (from > 0 && /[\uDC00-\uDFFF]/.test(m[from])) from--;
      let to = Math.min(m.length, from + 1 + rand(4));
      if (to < m.length && /[\uDC00-\uDFFF]/.test(m[to])) to++;
      doc.delete(from, to - from);
      m = m.slice(0, from) + m.slice(to);
    } else {
      // Rarely the long text or the emoji; mostly typing.
      const r = rand(1000);
      const piece = r === 0 ? pieces[6] : r === 1 ? pieces[7] : pieces[rand(6)];
      let at = rand(m.length + 1);
      if (at > 0 && at < m.length && /[\uDC00-\uDFFF]/.test(m[at])) at--;
      doc.insert(at, piece);
      m = m.slice(0, at) + piece + m.slice(at);
    }
    models[k] = m;
    assert.equal(doc.length, m.length);
    if (step % 2500 === 0) assert.equal(doc.text(), m, `step ${step}`);
  }
  for (let k = 0; k < 2; k++) {
    assert.equal(docs[k].text(), models[k]);
    docs[k].free();
  }
});

test('queued typing is applied as runs yet undoes keystroke by keystroke', () => {
  // The same keystrokes twice: queued until the end, and each applied at
  // once (text() flushes the queue).
  const queued = new WeftDoc(5n);
  const atOnce = new WeftDoc(5n);
  const keys = [];
  let cursor = 0;
  let length = 0;
  for (let i = 0; i < 600; i++) {
    if (i % 50 === 49) cursor = Math.floor(length / 2);  // a click elsewhere
    if (i % 9 === 8 && cursor < length) {
      keys.push(['delete', cursor, 1]);  // the Delete key
      length--;
    } else {
      const ch = i % 7 === 0 ? 'é' : String.fromCharCode(97 + (i % 26));
      keys.push(['insert', cursor, ch]);
      cursor++;
      length++;
    }
  }
  for (const [kind, pos, arg] of keys) {
    queued[kind](pos, arg);
    atOnce[kind](pos, arg);
    atOnce.text();
  }
  assert.equal(queued.text(), atOnce.text());
  assert.deepEqual(queued.encodeSince(new Uint8Array(0)), atOnce.encodeSince(new Uint8Array(0)));
  assert.deepEqual(queued.snapshot(), atOnce.snapshot());
  for (let i = 0; i < 40; i++) {
    queued.undo();
    atOnce.undo();
    assert.equal(queued.text(), atOnce.text(), `after undo ${i + 1}`);
  }
  queued.free();
  atOnce.free();
});
