// The engine's own checks against its WebAssembly build, under Node.js:
// - every shared trace replays to its endContent (sequential ones as
//   local edits, concurrent ones with one replica per agent, as the
//   native trace replay does);
// - the wasm engine's Update and Snapshot bytes for each trace are
//   byte-identical to the native engine's (native_peer replays it too);
// - seeded convergence scenarios between a wasm replica and a native one
//   (native_peer, over the C API), exchanging encoded updates in random
//   order, with duplicates, and text outside the BMP.
// WEFT_WASM_SCENARIOS sets how many scenarios (default 300).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { after, before, test } from 'node:test';
import zlib from 'node:zlib';

import { decodeVersion, encodeVersion, init, WeftDoc } from '../../web/js/weft.js';
import { SITE, TRACES } from './harness.mjs';

const PEER = process.env.WEFT_NATIVE_PEER;
const SCENARIOS = Number(process.env.WEFT_WASM_SCENARIOS ?? 300);

const hex = (b) => Buffer.from(b).toString('hex');
const unhex = (h) => new Uint8Array(Buffer.from(h, 'hex'));

// The native side: one native_peer process, one command at a time.
class NativePeer {
  constructor() {
    this.proc = spawn(PEER, [], { stdio: ['pipe', 'pipe', 'inherit'] });
    this.lines = readline.createInterface({ input: this.proc.stdout });
    this.waiting = [];
    this.lines.on('line', (l) => this.waiting.shift()(l));
  }
  async call(...words) {
    const line = await new Promise((resolve) => {
      this.waiting.push(resolve);
      this.proc.stdin.write(`${words.join(' ')}\n`);
    });
    if (!line.startsWith('ok')) throw new Error(`native_peer ${words[0]}: ${line}`);
    return line.split(' ').slice(1);
  }
  close() { this.proc.stdin.end(); }
}

let native;
before(async () => {
  await init(new URL(`file://${path.join(SITE, 'weft.wasm')}`));
  native = new NativePeer();
});
after(() => native?.close());

function loadTrace(file) {
  return JSON.parse(zlib.gunzipSync(fs.readFileSync(file)).toString('utf8'));
}

function traceFiles(kind) {
  const dir = path.join(TRACES, kind);
  return fs.readdirSync(dir).filter((f) => f.endsWith('.json.gz')).map((f) => path.join(dir, f));
}

// A patch in code points, applied through the UTF-16 API.
function applyPatch(doc, [pos, del, ins]) {
  const at = doc.toUtf16(pos);
  if (del > 0) doc.delete(at, doc.toUtf16(pos + del) - at);
  if (ins.length > 0) doc.insert(at, ins);
}

function replaySequential(trace) {
  const doc = new WeftDoc(1n);
  if (trace.startContent) doc.insert(0, trace.startContent);
  for (const txn of trace.txns) for (const p of txn.patches) applyPatch(doc, p);
  return [doc];
}

// engine/src/trace_replay.cc's ReplayConcurrent, step for step (the same
// agent ids and the same syncs in the same order, so the same op logs).
function replayConcurrent(trace) {
  const replicas = [];
  const replicasOf = [];
  for (let k = 0; k < trace.numAgents; k++) {
    replicas.push(new WeftDoc(BigInt(k + 1)));
    replicasOf.push([k]);
  }
  let nextExtra = BigInt(trace.numAgents + 1);
  const hub = new WeftDoc(2n ** 64n - 3n);
  const afterTxn = new Array(trace.txns.length);
  const children = new Array(trace.txns.length).fill(0);
  for (const t of trace.txns) for (const p of t.parents) children[p]++;
  const within = (v, target) => [...v].every(([a, n]) => n <= (target.get(a) ?? 0));
  trace.txns.forEach((t, i) => {
    const target = new Map();
    for (const p of t.parents) {
      for (const [a, n] of afterTxn[p]) if ((target.get(a) ?? 0) < n) target.set(a, n);
      if (--children[p] === 0) afterTxn[p] = null;
    }
    let r = replicasOf[t.agent].find((c) => within(decodeVersion(replicas[c].version()), target));
    if (r === undefined) {
      r = replicas.length;
      replicas.push(new WeftDoc(nextExtra++));
      replicasOf[t.agent].push(r);
    }
    const doc = replicas[r];
    const have = doc.version();
    const targetBytes = encodeVersion(target);
    if (hex(have) !== hex(targetBytes)) doc.apply(hub.encodeSince(have, targetBytes));
    assert.equal(hex(doc.version()), hex(targetBytes), `txn ${i}: sync to its parents`);
    for (const p of t.patches) applyPatch(doc, p);
    hub.apply(doc.encodeSince(targetBytes));
    if (children[i] > 0) afterTxn[i] = decodeVersion(doc.version());
  });
  for (const doc of replicas) doc.apply(hub.encodeSince(doc.version()));
  hub.free();
  return replicas;
}

for (const kind of ['sequential', 'concurrent']) {
  for (const file of traceFiles(kind)) {
    test(`${path.basename(file)} replays to endContent, byte for byte as natively`, async () => {
      const trace = loadTrace(file);
      const replicas = kind === 'concurrent' ? replayConcurrent(trace) : replaySequential(trace);
      for (const doc of replicas) assert.equal(doc.text(), trace.endContent);
      const [update, snapshot] = await native.call('replay', file);
      assert.equal(hex(replicas[0].encodeSince()), update, 'Update bytes');
      assert.equal(hex(replicas[0].snapshot()), snapshot, 'Snapshot bytes');
      // And each build reads the other's bytes.
      const loaded = WeftDoc.load(unhex(snapshot), 99n);
      assert.equal(loaded.text(), trace.endContent);
      const merged = new WeftDoc(98n);
      merged.apply(unhex(update));
      assert.equal(merged.text(), trace.endContent);
      for (const d of [...replicas, loaded, merged]) d.free();
    });
  }
}

// A seeded PRNG (mulberry32), so a failing scenario can be replayed.
function prng(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PIECES = ['a', 'bc', 'é', '€', '😀', '𝄞x', 'hello ', '\n'];

test(`${SCENARIOS} seeded scenarios: a wasm and a native replica converge`, async () => {
  for (let seed = 1; seed <= SCENARIOS; seed++) {
    const rand = prng(seed);
    const pick = (n) => Math.floor(rand() * n);
    const wasm = new WeftDoc(BigInt(2 * seed + 1));
    const id = `n${seed}`;
    await native.call('new', id, 2 * seed + 2);
    // Updates in flight each way, delivered late, out of order, twice.
    const toNative = [];
    const toWasm = [];
    let nativeLength = 0;  // code points
    let sentW = new Uint8Array([0]);
    let sentN = '00';
    for (let step = 0; step < 40; step++) {
      const r = rand();
      if (r < 0.3) {
        const cp = pick(wasm.toCodePoints(wasm.length) + 1);
        wasm.insert(wasm.toUtf16(cp), PIECES[pick(PIECES.length)]);
      } else if (r < 0.4 && wasm.length > 0) {
        const cps = wasm.toCodePoints(wasm.length);
        const from = pick(cps);
        const count = 1 + pick(Math.min(3, cps - from));
        const at = wasm.toUtf16(from);
        wasm.delete(at, wasm.toUtf16(from + count) - at);
      } else if (r < 0.65) {
        const [text] = await native.call('text', id);
        nativeLength = [...Buffer.from(text ?? '', 'hex').toString('utf8')].length;
        if (rand() < 0.75 || nativeLength === 0) {
          const piece = PIECES[pick(PIECES.length)];
          await native.call('insert', id, pick(nativeLength + 1), hex(Buffer.from(piece)));
        } else {
          const from = pick(nativeLength);
          await native.call('delete', id, from, 1 + pick(Math.min(3, nativeLength - from)));
        }
      } else if (r < 0.8) {
        toNative.push(wasm.encodeSince(sentW));
        if (rand() < 0.5) sentW = wasm.version();
        const [u] = await native.call('encode', id, sentN);
        toWasm.push(unhex(u));
        if (rand() < 0.5) [sentN] = await native.call('version', id);
      } else if (toNative.length || toWasm.length) {
        if (toNative.length) await native.call('apply', id, hex(toNative.splice(pick(toNative.length), 1)[0]));
        if (toWasm.length) wasm.apply(toWasm.splice(pick(toWasm.length), 1)[0]);
      }
    }
    // Deliver everything (and everything again), then compare.
    for (const u of toNative) await native.call('apply', id, hex(u));
    for (const u of toWasm) wasm.apply(u);
    const [nv] = await native.call('version', id);
    await native.call('apply', id, hex(wasm.encodeSince(unhex(nv))));
    const [u] = await native.call('encode', id, hex(wasm.version()));
    wasm.apply(unhex(u));
    const [text] = await native.call('text', id);
    const [version] = await native.call('version', id);
    assert.equal(wasm.text(), Buffer.from(text ?? '', 'hex').toString('utf8'), `seed ${seed}`);
    assert.equal(hex(wasm.version()), version, `seed ${seed}`);
    assert.equal(wasm.pending, 0, `seed ${seed}`);
    wasm.free();
  }
});
