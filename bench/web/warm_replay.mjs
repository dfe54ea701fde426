// Warm, in-process local replay of a sequential trace through WeftDoc (the
// WebAssembly engine under Node.js), shaped like the JS anchors' warm.mjs
// (../shared/anchors/js) so the figures compare: the trace replayed N
// times in one process, a fresh document each time, every patch a local
// edit; median and minimum in milliseconds, one JSON line.
// Usage: node --expose-gc warm_replay.mjs SITE_DIR TRACE.json.gz [N]
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';

const [site, tracePath, nArg] = process.argv.slice(2);
const n = Number(nArg ?? 7);
const { init, WeftDoc } = await import(path.resolve(site, 'weft.js'));
await init(new URL(`file://${path.resolve(site, 'weft.wasm')}`));
const trace = JSON.parse(zlib.gunzipSync(fs.readFileSync(tracePath)).toString('utf8'));
const txns = trace.txns.map((t) => t.patches);
// One trace txn, as the anchors' adapters apply one: in a function of its
// own (a module's top level runs as an async function, which V8 does not
// optimize the way it does a plain one).
function applyTxn(doc, patches) {
  for (const [pos, del, ins] of patches) {
    if (del > 0) doc.delete(pos, del);
    if (ins.length > 0) doc.insert(pos, ins);
  }
}

const times = [];
let ok = true;
for (let i = 0; i < n; i++) {
  globalThis.gc?.();
  const t0 = process.hrtime.bigint();
  const doc = new WeftDoc(1n);
  for (const patches of txns) applyTxn(doc, patches);
  doc.text();  // applies what is queued, inside the timing
  times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  // Checked outside the timing; positions are UTF-16 here, so only traces
  // without characters outside the BMP replay exactly this way.
  if (i === 0) ok = doc.text() === trace.endContent;
  doc.free();
}
times.sort((a, b) => a - b);
console.log(JSON.stringify({ lib: 'weft-wasm', trace: path.basename(tracePath), ok,
  replayMs: { median: times[times.length >> 1], min: times[0] } }));
