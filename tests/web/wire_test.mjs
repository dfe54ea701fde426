// The browser's side of the wire protocol (web/js/wire.js, the proofs in
// web/js/sync.js, sha256.js) against a real `weft node` over its WebSocket
// endpoint, from Node.js (node --experimental-websocket). The engine is not
// needed: the updates come from `weft type` over TCP.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

import { hmacSha256, sha256 } from '../../web/js/sha256.js';
import { clientProof, serverProof } from '../../web/js/sync.js';
import { decodeFrame, encodeFrame, FrameReader } from '../../web/js/wire.js';
import { tempDir, waitFor, WEFT, TRACES, WeftNode } from './harness.mjs';

// A WebSocket speaking weft frames; collects what arrives.
class WireClient {
  constructor(node) {
    this.messages = [];
    this.reader = new FrameReader();
    this.ws = new WebSocket(`ws://127.0.0.1:${node.httpPort}/weft`);
    this.ws.binaryType = 'arraybuffer';
    this.closed = false;
    this.ws.onmessage = (e) => {
      for (const body of this.reader.push(new Uint8Array(e.data))) this.messages.push(decodeFrame(body));
    };
    this.ws.onclose = () => { this.closed = true; };
    this.open = new Promise((resolve) => { this.ws.onopen = resolve; });
  }
  send(m) { this.ws.send(encodeFrame(m)); }
  // Waits for the next message of `type` (skipping others); removes it.
  async next(type) {
    return waitFor(() => {
      const i = this.messages.findIndex((m) => m.type === type);
      return i >= 0 && this.messages.splice(i, 1)[0];
    }, `a ${type} frame`);
  }
}

test('sha256 and hmac match node:crypto, RFC 4231 included', () => {
  for (const n of [0, 1, 55, 56, 63, 64, 65, 1000]) {
    const d = crypto.randomBytes(n);
    assert.equal(Buffer.from(sha256(d)).toString('hex'), crypto.createHash('sha256').update(d).digest('hex'));
  }
  for (const k of [0, 5, 64, 65, 200]) {
    const key = crypto.randomBytes(k);
    const msg = crypto.randomBytes(77);
    assert.equal(Buffer.from(hmacSha256(key, msg)).toString('hex'),
      crypto.createHmac('sha256', key).update(msg).digest('hex'));
  }
  assert.equal(Buffer.from(hmacSha256(Buffer.alloc(20, 0x0b), Buffer.from('Hi There'))).toString('hex'),
    'b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7');
});

test('the handshake with a secret, then a catch-up and live edits from a TCP typist', async () => {
  const dir = tempDir('weft-wire-');
  const secretFile = path.join(dir, 'secret');
  fs.writeFileSync(secretFile, 'correct horse\n');
  const node = await new WeftNode({ secretFile }).start();
  try {
    // A typist over TCP fills the document first.
    const trace = path.join(TRACES, 'sequential', 'friendsforever_flat.json.gz');
    await new Promise((resolve, reject) => execFile(WEFT, ['type', '--connect',
      `127.0.0.1:${node.tcpPort}`, '--doc', 'wire', '--trace', trace, '--secret-file', secretFile],
    { timeout: 60000 }, (err) => (err ? reject(err) : resolve())));

    const c = new WireClient(node);
    await c.open;
    const clientNonce = crypto.randomBytes(32);
    c.send({ type: 'hello', nodeId: 0x1234n, clientNonce, agents: [77n], label: 'wire test' });
    const challenge = await c.next('authChallenge');
    c.send({ type: 'authProof', proof: clientProof('correct horse', challenge.serverNonce, clientNonce, 0x1234n) });
    const welcome = await c.next('welcome');
    assert.deepEqual(welcome.serverProof,
      serverProof('correct horse', clientNonce, challenge.serverNonce, welcome.nodeId));
    c.send({ type: 'subscribe', doc: 'wire', have: new Map() });
    const done = await c.next('syncDone');
    assert.ok(done.version.size >= 1);
    const batches = c.messages.filter((m) => m.type === 'opBatch');
    assert.ok(batches.length >= 1);
    assert.ok(batches.every((b) => b.doc === 'wire' && b.update.length > 0));
    // Pings are answered; a presence is relayed to the other subscribers.
    const other = new WireClient(node);
    await other.open;
    const nonce2 = crypto.randomBytes(32);
    other.send({ type: 'hello', nodeId: 0x99n, clientNonce: nonce2, agents: [78n] });
    const ch2 = await other.next('authChallenge');
    other.send({ type: 'authProof', proof: clientProof('correct horse', ch2.serverNonce, nonce2, 0x99n) });
    await other.next('welcome');
    other.send({ type: 'subscribe', doc: 'wire', have: new Map() });
    await other.next('syncDone');
    c.send({ type: 'presence', doc: 'wire', agent: 77n, cursor: { agent: 5n, seq: 3, hasId: true, bias: 'right' }, label: 'me' });
    const p = await other.next('presence');
    assert.equal(p.agent, 77n);
    assert.deepEqual(p.cursor, { agent: 5n, seq: 3, bias: 'right', hasId: true });
    assert.equal(p.label, 'me');
    c.ws.close();
    other.ws.close();
  } finally {
    await node.stop();
  }
});

test('a wrong proof gets an auth error and a close', async () => {
  const dir = tempDir('weft-wire-');
  const secretFile = path.join(dir, 'secret');
  fs.writeFileSync(secretFile, 'correct horse\n');
  const node = await new WeftNode({ secretFile }).start();
  try {
    const c = new WireClient(node);
    await c.open;
    const clientNonce = crypto.randomBytes(32);
    c.send({ type: 'hello', nodeId: 1n, clientNonce, agents: [1n] });
    const challenge = await c.next('authChallenge');
    c.send({ type: 'authProof', proof: clientProof('wrong horse', challenge.serverNonce, clientNonce, 1n) });
    const error = await c.next('error');
    assert.equal(error.codeName, 'auth failed');
    await waitFor(() => c.closed, 'the close');
  } finally {
    await node.stop();
  }
});

test('frames survive any cut of the stream', () => {
  const frames = [
    { type: 'opBatch', doc: 'd', update: new Uint8Array([1, 2, 3]) },
    { type: 'ping', nonce: 2n ** 63n + 5n, sentMicros: 123456789n },
    { type: 'error', code: 4, reason: 'bad ✓' },
  ].map(encodeFrame);
  const stream = Buffer.concat(frames);
  for (let cut = 1; cut < stream.length; cut++) {
    const r = new FrameReader();
    const bodies = [...r.push(stream.subarray(0, cut)), ...r.push(stream.subarray(cut))];
    const m = bodies.map(decodeFrame);
    assert.equal(m.length, 3);
    assert.deepEqual(m[0], { type: 'opBatch', doc: 'd', update: new Uint8Array([1, 2, 3]) });
    assert.equal(m[1].nonce, 2n ** 63n + 5n);
    assert.equal(m[2].reason, 'bad ✓');
  }
  assert.throws(() => new FrameReader().push(new Uint8Array([0, 0, 0, 0])));
  assert.throws(() => decodeFrame(new Uint8Array([0xa2, 0x06, 0x05, 0x01])));
});
