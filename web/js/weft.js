// weft.js: the weft engine (WebAssembly) as a JavaScript API, for browsers
// and Node.js. An ES module with no dependencies; weft.wasm sits beside it.
//
//   import { init, WeftDoc } from './weft.js';
//   await init();                        // loads weft.wasm next to this file
//   const doc = new WeftDoc();           // a replica with a random agent id
//   doc.insert(0, 'hello');              // positions are UTF-16 code units
//   other.apply(doc.encodeSince(other.version()));
//
// Positions and lengths are UTF-16 code units, as in JavaScript strings
// (an emoji outside the Basic Multilingual Plane counts 2); the engine
// works in code points and the conversion happens at this boundary. A
// position between the two halves of a surrogate pair is an error.
// Versions, updates and snapshots are Uint8Arrays, byte for byte those of
// the native engine and its C API (weft.h), so replicas in browsers,
// nodes and native programs exchange them freely.
//
// Errors throw a WeftError with a `code` ('out of range', 'corruption', ...)
// and leave the document unchanged.

let wasm = null;  // the module's exports
// Views of its memory (renewed when it grows): bytes and 32-bit words. Kept
// in an object, like the queue's state below, so that the per-keystroke
// path reads properties of a constant instead of module bindings.
const M = { u8: null, u32: null };
let scratchPtr = 0;
let scratchCap = 0;

// Local edits of a document without characters outside the BMP are queued
// here and applied in one call when anything else happens (see WeftDoc):
// typing costs a few array writes per keystroke instead of a call into
// the engine, which applies the keystrokes of a run of typing as one
// insert. weft_edit records (weft.h: kind, pos and count in 32-bit words
// 0, 2 and 4 of 6; the rest stay zero, as positions and counts fit 32
// bits in wasm32's memory), then the inserted UTF-8.
const QUEUE_EDITS = 2048;
const QUEUE_TEXT = 32768;
let editsPtr = 0;
// The queue: its document, how many edits and text bytes it holds, and
// where they go (in doubles and in bytes).
const Q = { doc: null, n: 0, text: 0, editsAt: 0, textPtr: 0 };
const decoder = new TextDecoder();
const encoder = new TextEncoder();

const CODES = ['ok', 'invalid argument', 'out of range', 'corruption', 'resource exhausted',
  'out of memory', 'failed precondition', 'internal'];

export class WeftError extends Error {
  constructor(status, message) {
    super(message);
    this.name = 'WeftError';
    this.code = CODES[status] ?? 'unknown';
  }
}

// Loads the engine once. `source`: a URL (string or URL), a Response, the
// wasm bytes or a compiled WebAssembly.Module; default weft.wasm beside
// this file. Resolves when the engine is ready; later calls return at once.
export async function init(source) {
  if (wasm) return;
  source ??= new URL('./weft.wasm', import.meta.url);
  let module;
  if (source instanceof WebAssembly.Module) {
    module = source;
  } else if (source instanceof ArrayBuffer || ArrayBuffer.isView(source)) {
    module = await WebAssembly.compile(source);
  } else {
    const url = source instanceof Response ? null : new URL(source, import.meta.url);
    if (url && url.protocol === 'file:') {
      // Node.js: fetch() does not read files.
      const { readFile } = await import('node:fs/promises');
      module = await WebAssembly.compile(await readFile(url));
    } else {
      const response = source instanceof Response ? source : await fetch(url);
      if (!response.ok) throw new Error(`cannot load ${response.url}: ${response.status}`);
      module = await WebAssembly.compile(await response.arrayBuffer());
    }
  }
  // The engine needs almost nothing from its host: it only learns that its
  // memory grew and, on a fatal error, stops.
  const instance = await WebAssembly.instantiate(module, {
    env: { emscripten_notify_memory_growth() { M.u8 = null; M.u32 = null; } },
    wasi_snapshot_preview1: {
      proc_exit(code) { throw new Error(`weft engine stopped (exit ${code})`); },
    },
  });
  wasm = instance.exports;
  wasm._initialize?.();
  editsPtr = wasm.weft_web_edit_buffer(QUEUE_EDITS + Math.ceil(QUEUE_TEXT / 24));
  Q.textPtr = editsPtr + 24 * QUEUE_EDITS;
  Q.editsAt = editsPtr >> 2;
  // V8 forgets an object shape a few collections after the last object
  // with it died, and throws away the code optimized for it: an app that
  // frees its last document and opens another would type through
  // unoptimized code again for a while. One freed document, kept, holds
  // the shape (a few dozen bytes; its engine memory is released).
  shapeKeeper = new WeftDoc(1n);
  shapeKeeper.free();
}
let shapeKeeper = null;

function words() {
  if (M.u32 === null) M.u32 = new Uint32Array(wasm.memory.buffer);
  return M.u32;
}

// Applies the queued local edits. Every call that reads or changes a doc
// other than by a queued insert/delete flushes first.
function flush() {
  if (Q.n === 0) return;
  const doc = Q.doc;
  const n = Q.n;
  const textBytes = Q.text;
  Q.doc = null;
  Q.n = 0;
  Q.text = 0;
  check(wasm.weft_web_apply_local(doc.ptr, editsPtr, n, Q.textPtr, textBytes));
}

// Makes `doc` the queue's document with room for one more edit and
// `textBytes` more bytes of text, flushing what is queued if not.
function queueFor(doc, textBytes) {
  if (Q.doc !== doc || Q.n === QUEUE_EDITS || Q.text + textBytes > QUEUE_TEXT) {
    flush();
    Q.doc = doc;
  }
}

// Writes `text` as UTF-8 after the queued text if it is all in the BMP
// (no surrogates); returns its byte length, or -1. REQUIRES: queueFor(doc,
// 3 * text.length).
function queueString(text) {
  const h = M.u8 ?? bytes();
  let at = Q.textPtr + Q.text;
  const start = at;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) {
      h[at++] = c;
    } else if (c < 0x800) {
      h[at++] = 0xc0 | (c >> 6);
      h[at++] = 0x80 | (c & 0x3f);
    } else if (c >= 0xd800 && c <= 0xdfff) {
      return -1;
    } else {
      h[at++] = 0xe0 | (c >> 12);
      h[at++] = 0x80 | ((c >> 6) & 0x3f);
      h[at++] = 0x80 | (c & 0x3f);
    }
  }
  return at - start;
}

// Appends one edit to the queue. REQUIRES: queueFor(doc, ...).
function enqueue(kind, pos, count) {
  const w = M.u32 ?? words();
  const at = Q.editsAt + 6 * Q.n;
  w[at] = kind;
  w[at + 2] = pos;
  w[at + 4] = count;
  Q.n++;
}

function ready() {
  if (!wasm) throw new Error('weft: call and await init() first');
}

// The engine says when its memory grows (which detaches old views).
function bytes() {
  if (M.u8 === null) M.u8 = new Uint8Array(wasm.memory.buffer);
  return M.u8;
}

// A pointer to at least `n` bytes for the next call's input.
function scratch(n) {
  if (n > scratchCap) {
    scratchCap = Math.max(n, 2 * scratchCap, 256);
    scratchPtr = wasm.weft_web_scratch(scratchCap);
  }
  return scratchPtr;
}

// Writes `text` as UTF-8 to scratch memory; returns its byte length.
function putString(text) {
  const n = text.length;
  const ptr = scratch(3 * n);
  const h = bytes();
  // Short ASCII (typing) without TextEncoder's call overhead.
  if (n <= 32) {
    let i = 0;
    for (; i < n; i++) {
      const c = text.charCodeAt(i);
      if (c >= 0x80) break;
      h[ptr + i] = c;
    }
    if (i === n) return n;
  }
  return encoder.encodeInto(text, h.subarray(ptr, ptr + 3 * n)).written;
}

// Copies `data` (Uint8Array) to scratch memory; returns the pointer.
function putBytes(data) {
  const ptr = scratch(data.length);
  bytes().set(data, ptr);
  return ptr;
}

function check(status) {
  if (status !== 0) throw new WeftError(status, lastError() || CODES[status]);
}

function lastError() {
  const h = bytes();
  const ptr = wasm.weft_last_error();
  let end = ptr;
  while (h[end] !== 0) end++;
  return decoder.decode(h.subarray(ptr, end));
}

function result() {
  const ptr = wasm.weft_web_result();
  return bytes().slice(ptr, ptr + wasm.weft_web_result_len());
}

function splitAgent(agent) {
  const a = BigInt.asUintN(64, BigInt(agent));
  return [Number(a & 0xffffffffn), Number(a >> 32n)];
}

function randomAgent() {
  const words = new Uint32Array(2);
  do crypto.getRandomValues(words); while (words[0] === 0 && words[1] === 0);
  return (BigInt(words[1]) << 32n) | BigInt(words[0]);
}

const registry = new FinalizationRegistry((ptr) => wasm.weft_web_free(ptr));

// One replica of a text document.
export class WeftDoc {
  // `agent`: this replica's 64-bit id (bigint or number), unique among all
  // replicas that ever edit the document; default a random one.
  constructor(agent = randomAgent(), ptr = null) {
    ready();
    this.agent = BigInt.asUintN(64, BigInt(agent));
    if (ptr === null) ptr = wasm.weft_web_new(...splitAgent(this.agent));
    if (!ptr) throw new WeftError(5, 'cannot make a document');
    this.ptr = ptr;
    this.listeners = new Set();
    this.#refresh();
    registry.register(this, ptr, this);
  }

  // Without characters outside the BMP, UTF-16 offsets are code points and
  // this object checks positions itself, so edits can be queued.
  #bmp = true;
  #length = 0;  // UTF-16 units, kept up to date while #bmp

  #refresh() {
    this.#bmp = wasm.weft_web_astral_count(this.ptr) === 0;
    this.#length = wasm.weft_web_length(this.ptr);
  }

  // A replica loaded from snapshot() bytes, editing as `agent` (default a
  // new random one; reuse the saved replica's only once it is gone).
  static load(snapshot, agent = randomAgent()) {
    ready();
    flush();
    const a = BigInt.asUintN(64, BigInt(agent));
    const ptr = wasm.weft_web_load(...splitAgent(a), putBytes(snapshot), snapshot.length);
    if (!ptr) throw new WeftError(3, lastError() || 'cannot load the snapshot');
    return new WeftDoc(a, ptr);
  }

  // Releases the engine's memory now (it is also released once the object
  // is garbage collected). The doc is unusable afterwards.
  free() {
    if (!this.ptr) return;
    if (Q.doc === this) flush();
    registry.unregister(this);
    wasm.weft_web_free(this.ptr);
    this.ptr = 0;
  }

  // ---- Local edits: they do not call change listeners.

  insert(pos, text) {
    if (text.length === 0) return;
    if (this.#bmp) {
      if (!(pos >= 0 && pos <= this.#length && Number.isInteger(pos))) {
        throw new WeftError(2, 'position past the end of the text');
      }
      if (3 * text.length <= QUEUE_TEXT) {
        queueFor(this, 3 * text.length);
        const len = queueString(text);
        if (len >= 0) {
          enqueue(0, pos, len);
          Q.text += len;
          this.#length += text.length;
          return;
        }
      }
    }
    flush();
    const len = putString(text);
    const status = wasm.weft_web_insert(this.ptr, pos, scratchPtr, len);
    this.#refresh();
    check(status);
  }

  delete(pos, length) {
    if (!(length > 0)) return;
    if (this.#bmp) {
      if (!(pos >= 0 && pos + length <= this.#length && Number.isInteger(pos) &&
        Number.isInteger(length))) {
        throw new WeftError(2, 'deletion past the end of the text');
      }
      queueFor(this, 0);
      enqueue(1, pos, length);
      this.#length -= length;
      return;
    }
    flush();
    const status = wasm.weft_web_delete(this.ptr, pos, length);
    this.#refresh();
    check(status);
  }

  // ---- Reading

  get length() {
    if (this.#bmp) return this.#length;
    flush();
    return wasm.weft_web_length(this.ptr);
  }

  text() {
    flush();
    check(wasm.weft_web_text(this.ptr));
    const ptr = wasm.weft_web_result();
    return decoder.decode(bytes().subarray(ptr, ptr + wasm.weft_web_result_len()));
  }

  // Edits received whose dependencies have not arrived yet.
  get pending() { flush(); return wasm.weft_web_pending(this.ptr); }

  // ---- Sync

  // What this replica has: per agent, how many of its edits. The byte form
  // of weft.h (decodeVersion reads it).
  version() {
    flush();
    check(wasm.weft_web_version(this.ptr));
    return result();
  }

  // An Update with everything this replica has that a replica at `since`
  // (a version(); default: nothing) lacks. With `until` (a version some
  // replica had), only what lies inside it: pieces (v0, v1), (v1, v2), ...
  // apply one after another.
  encodeSince(since = new Uint8Array(0), until = null) {
    flush();
    const untilLength = until === null ? 0 : until.length;
    const ptr = scratch(since.length + untilLength);
    bytes().set(since, ptr);
    if (until !== null) bytes().set(until, ptr + since.length);
    check(wasm.weft_web_encode(this.ptr, ptr, since.length, until === null ? 0 : ptr + since.length,
      untilLength));
    return result();
  }

  // Applies an Update from any replica: idempotent, in any order (edits
  // whose dependencies are missing wait). Calls change listeners with the
  // visible changes before it returns. Malformed bytes throw and change
  // nothing.
  apply(update) {
    flush();
    const status = wasm.weft_web_apply(this.ptr, putBytes(update), update.length);
    this.#refresh();
    this.#deliver('remote');
    check(status);
  }

  // The whole replica (text, history, ids), for WeftDoc.load.
  snapshot() {
    flush();
    check(wasm.weft_web_snapshot(this.ptr));
    return result();
  }

  // ---- Change events

  // Calls fn(delta, origin) for every change this replica did not make by
  // insert/delete: origin 'remote' (apply), 'undo' or 'redo'. A delta is
  // an array of steps walking the text from its start, in UTF-16 units:
  // {retain: n}, {insert: 'text'} or {delete: n}; what it does not mention
  // stays. Applied in order, deltas turn the old text into the new one.
  // Returns a function that removes the listener.
  onChange(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  #deliver(origin) {
    const n = wasm.weft_web_event_count(this.ptr);
    if (n === 0) return;
    const words = new Uint32Array(wasm.memory.buffer, wasm.weft_web_events(this.ptr), 4 * n).slice();
    const textPtr = wasm.weft_web_event_text(this.ptr);
    const h = bytes();
    const deltas = [];
    let delta = [];
    for (let i = 0; i < 4 * n; i += 4) {
      const kind = words[i];
      if (kind === 0) delta.push({ retain: words[i + 1] });
      else if (kind === 1) {
        const at = textPtr + words[i + 2];
        delta.push({ insert: decoder.decode(h.subarray(at, at + words[i + 3])) });
      } else if (kind === 2) delta.push({ delete: words[i + 1] });
      else {
        deltas.push(delta);
        delta = [];
      }
    }
    for (const d of deltas) for (const fn of this.listeners) fn(d, origin);
  }

  // ---- Anchors: positions that follow their character across edits

  // An anchor at `pos`. bias 'right' (default) sticks to the character
  // after it, like a typing caret: text inserted exactly there goes before
  // the anchor. 'left' sticks to the character before it. A plain object
  // {agent, seq, hasId, bias}: store it, send it, resolve it on any replica.
  anchor(pos, bias = 'right') {
    flush();
    check(wasm.weft_web_anchor(this.ptr, pos, bias === 'left' ? 0 : 1));
    const view = new DataView(wasm.memory.buffer, wasm.weft_web_anchor_out(), 24);
    return {
      agent: view.getBigUint64(0, true),
      seq: Number(view.getBigUint64(8, true)),
      hasId: view.getUint32(16, true) === 1,
      bias: view.getUint32(20, true) === 0 ? 'left' : 'right',
    };
  }

  // Where `anchor` is now. If its character was deleted, where it was; if
  // this replica does not have it, 0 (left) or the end (right).
  resolve(anchor) {
    flush();
    const pos = wasm.weft_web_resolve(this.ptr, ...splitAgent(anchor.agent ?? 0n), anchor.seq ?? 0,
      anchor.hasId ? 1 : 0, anchor.bias === 'left' ? 0 : 1);
    if (pos < 0) throw new WeftError(1, 'malformed anchor');
    return pos;
  }

  // ---- Undo and redo of this replica's own edits (new edits, sent like
  // any other, so they compose with concurrent remote ones). They call the
  // change listeners with origin 'undo' / 'redo'.

  undo() {
    flush();
    const status = wasm.weft_web_undo(this.ptr);
    this.#refresh();
    this.#deliver('undo');
    check(status);
  }

  redo() {
    flush();
    const status = wasm.weft_web_redo(this.ptr);
    this.#refresh();
    this.#deliver('redo');
    check(status);
  }

  get canUndo() { flush(); return wasm.weft_web_can_undo(this.ptr) === 1; }
  get canRedo() { flush(); return wasm.weft_web_can_redo(this.ptr) === 1; }

  // ---- Code points, for positions from elsewhere (the C API, traces)

  toUtf16(codePoints) {
    flush();
    const pos = wasm.weft_web_utf16_from_pos(this.ptr, codePoints);
    if (pos < 0) throw new WeftError(2, 'position past the end');
    return pos;
  }

  toCodePoints(utf16) {
    flush();
    const pos = wasm.weft_web_pos_from_utf16(this.ptr, utf16);
    if (pos < 0) throw new WeftError(2, 'not a position of the text');
    return pos;
  }
}

// ---- Versions: Map(agent bigint -> number of its edits) <-> bytes

// Reads version() bytes (weft.h's grammar: LEB128 varints, a count, then
// agent and next seq per entry).
export function decodeVersion(data) {
  let at = 0;
  const next = () => {
    let v = 0n;
    for (let shift = 0n; at < data.length; shift += 7n) {
      const b = data[at++];
      v |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return v;
    }
    throw new WeftError(3, 'version: truncated');
  };
  const out = new Map();
  for (let n = Number(next()); n > 0; n--) {
    const agent = next();
    out.set(agent, Number(next()));
  }
  return out;
}

export function encodeVersion(map) {
  const out = [];
  const put = (v) => {
    v = BigInt(v);
    while (v >= 0x80n) {
      out.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    out.push(Number(v));
  };
  const entries = [...map].filter(([, n]) => n > 0).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  put(entries.length);
  for (const [agent, n] of entries) {
    put(agent);
    put(n);
  }
  return new Uint8Array(out);
}
