// WeftSync: keeps a WeftDoc in sync with one document on a weft node, over
// the node's WebSocket endpoint (weft node --http, path /weft). It speaks
// the node's own protocol (proto/README.md): Hello, the HMAC proof when the
// node has a secret, Subscribe, then op batches both ways, Acks, Presence.
//
//   const sync = new WeftSync(doc, { url: 'ws://host:port/weft', docName: 'notes' });
//   sync.onStatus((status, detail) => ...);   // 'synced' once caught up
//   doc.insert(0, 'hi'); sync.push();          // after local edits
//
// Offline: edits made while disconnected stay in the doc; on reconnect the
// node says what it has (SyncDone) and everything of this replica's agent
// beyond that is sent, cut into frames that each apply on their own.
// Reconnects back off exponentially (with jitter) up to maxBackoffMs.
//
// Statuses: 'connecting', 'authenticating', 'syncing' (connected, catching
// up or waiting for the node to store local edits), 'synced' (caught up and
// every local edit acknowledged as durable), 'offline' (waiting to
// reconnect), 'needs-secret' (the node requires a secret: set one with
// setSecret), 'auth-failed' (the secret is wrong), 'closed'.

import { decodeVersion, encodeVersion } from './weft.js';
import { hmacSha256 } from './sha256.js';
import { decodeFrame, encodeFrame, FrameReader, MAX_UPDATE_BYTES, PROTOCOL_VERSION } from './wire.js';

const utf8 = new TextEncoder();

function randomBytes(n) {
  const b = new Uint8Array(n);
  crypto.getRandomValues(b);
  return b;
}

function u64le(v) {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt.asUintN(64, BigInt(v)), true);
  return out;
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

// The proofs of transport/include/weft/transport/auth.h.
export function clientProof(secret, serverNonce, clientNonce, clientNode) {
  return hmacSha256(utf8.encode(secret),
    concat(utf8.encode('weft/1 client'), serverNonce, clientNonce, u64le(clientNode)));
}

export function serverProof(secret, clientNonce, serverNonce, serverNode) {
  return hmacSha256(utf8.encode(secret),
    concat(utf8.encode('weft/1 server'), clientNonce, serverNonce, u64le(serverNode)));
}

function sameBytes(a, b) {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

export class WeftSync {
  // options: url (ws:// or wss://, required), docName (required), secret,
  // label (shown to other users), WebSocket (a constructor, for Node.js),
  // minBackoffMs (250), maxBackoffMs (5000).
  constructor(doc, options) {
    this.doc = doc;
    this.url = options.url;
    this.docName = options.docName;
    this.secret = options.secret ?? null;
    this.label = options.label ?? '';
    this.WebSocket = options.WebSocket ?? globalThis.WebSocket;
    this.minBackoff = options.minBackoffMs ?? 250;
    this.maxBackoff = options.maxBackoffMs ?? 5000;
    this.backoff = this.minBackoff;
    this.nodeId = BigInt.asUintN(64, (BigInt(Date.now()) << 20n) ^ BigInt(randomBytes(4).reduce((a, b) => a * 256 + b, 0)));
    this.status = '';
    this.detail = '';
    this.statusListeners = new Set();
    this.presenceListeners = new Set();
    this.peers = new Map();  // agent -> {cursor, selectionAnchor, label}
    this.acked = 0;          // this agent's seqs the node holds durably
    this.closed = false;
    this.ws = null;
    this.timer = null;
    this.#connect();
  }

  // fn(status, detail) now and on every change.
  onStatus(fn) {
    this.statusListeners.add(fn);
    fn(this.status, this.detail);
    return () => this.statusListeners.delete(fn);
  }

  // fn(peers) whenever another user's presence changes: a Map of agent to
  // {cursor, selectionAnchor, label}, anchors to resolve with doc.resolve.
  onPresence(fn) {
    this.presenceListeners.add(fn);
    return () => this.presenceListeners.delete(fn);
  }

  // Sends the local edits the node has not seen yet. Call after edits; it
  // does nothing while offline (they go out on reconnect).
  push() {
    if (!this.ready) return;
    const have = this.#ownSeqs();
    if (have <= this.sent) return this.#updateStatus();
    // Everything of this agent from `sent`: others' entries are the doc's
    // own, so only this agent's edits are encoded. Pieces larger than a
    // frame are halved until they fit (a version may end inside a run).
    const base = decodeVersion(this.doc.version());
    const at = (seq) => {
      const v = new Map(base);
      v.set(this.doc.agent, seq);
      return encodeVersion(v);
    };
    let from = this.sent;
    while (from < have) {
      let to = have;
      let update = this.doc.encodeSince(at(from), at(to));
      while (update.length > MAX_UPDATE_BYTES && to - from > 1) {
        to = from + Math.floor((to - from) / 2);
        update = this.doc.encodeSince(at(from), at(to));
      }
      this.#send({ type: 'opBatch', doc: this.docName, update });
      from = to;
    }
    this.sent = have;
    this.#updateStatus();
  }

  // Tells the other users where this user's caret is (an anchor from
  // doc.anchor), and optionally the other end of the selection.
  setCursor(cursor, selectionAnchor = cursor) {
    this.cursor = { cursor, selectionAnchor };
    if (this.ready) {
      this.#send({ type: 'presence', doc: this.docName, agent: this.doc.agent, cursor,
        selectionAnchor, label: this.label });
    }
  }

  // For 'needs-secret' / 'auth-failed': try again with `secret`.
  setSecret(secret) {
    this.secret = secret;
    this.backoff = this.minBackoff;
    this.#reconnectNow();
  }

  // Closes the connection for good.
  close() {
    this.closed = true;
    clearTimeout(this.timer);
    this.ws?.close();
    this.#setStatus('closed');
  }

  // ---- Connection ---------------------------------------------------------

  #connect() {
    if (this.closed) return;
    this.#setStatus('connecting');
    this.ready = false;
    this.reader = new FrameReader();
    this.clientNonce = randomBytes(32);
    this.serverNonce = null;
    const ws = new this.WebSocket(this.url);
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    ws.onopen = () => {
      this.#send({ type: 'hello', protocolVersion: PROTOCOL_VERSION, nodeId: this.nodeId,
        clientNonce: this.clientNonce, agents: [this.doc.agent], label: this.label });
    };
    ws.onmessage = (event) => {
      if (ws !== this.ws) return;
      try {
        for (const body of this.reader.push(new Uint8Array(event.data))) this.#handle(decodeFrame(body));
      } catch (e) {
        this.#fail(`bad data from the node: ${e.message}`);
      }
    };
    ws.onclose = () => {
      if (ws !== this.ws) return;
      this.ws = null;
      this.ready = false;
      this.#scheduleReconnect();
    };
    ws.onerror = () => {};  // onclose follows
  }

  #scheduleReconnect() {
    if (this.closed) return;
    if (this.status !== 'needs-secret' && this.status !== 'auth-failed') {
      this.#setStatus('offline', this.detail);
    }
    // A missing or wrong secret stays so until setSecret.
    if (this.status === 'needs-secret' || this.status === 'auth-failed') return;
    const wait = this.backoff * (0.75 + Math.random() / 2);
    this.backoff = Math.min(this.backoff * 2, this.maxBackoff);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.#connect(), wait);
  }

  #reconnectNow() {
    clearTimeout(this.timer);
    const old = this.ws;
    this.ws = null;
    old?.close();
    this.#connect();
  }

  #fail(reason) {
    this.detail = reason;
    const old = this.ws;
    this.ws = null;
    this.ready = false;
    old?.close();
    this.#scheduleReconnect();
  }

  #send(message) {
    if (this.ws?.readyState === 1) this.ws.send(encodeFrame(message));
  }

  #handle(m) {
    switch (m.type) {
      case 'authChallenge':
        if (this.secret === null) {
          this.#setStatus('needs-secret', 'the node requires a secret');
          this.ws.close();
          return;
        }
        this.#setStatus('authenticating');
        this.serverNonce = m.serverNonce;
        this.#send({ type: 'authProof',
          proof: clientProof(this.secret, m.serverNonce, this.clientNonce, this.nodeId) });
        return;
      case 'welcome':
        if (m.protocolVersion !== PROTOCOL_VERSION) return this.#fail(`node speaks protocol ${m.protocolVersion}`);
        if (this.secret !== null) {
          const want = this.serverNonce &&
            serverProof(this.secret, this.clientNonce, this.serverNonce, m.nodeId);
          if (!want || !m.serverProof || !sameBytes(want, m.serverProof)) {
            this.#setStatus('auth-failed', 'the node did not prove it knows the secret');
            return this.#fail('the node did not prove it knows the secret');
          }
        }
        this.backoff = this.minBackoff;
        this.#setStatus('syncing');
        this.caughtUp = false;
        this.#send({ type: 'subscribe', doc: this.docName, have: decodeVersion(this.doc.version()) });
        return;
      case 'opBatch':
        if (m.doc === this.docName && m.update) this.doc.apply(m.update);
        return;
      case 'syncDone':
        if (m.doc !== this.docName) return;
        // What the node has of this agent: send what lies beyond.
        this.sent = m.version.get(this.doc.agent) ?? 0;
        this.acked = Math.max(this.acked, this.sent);
        this.caughtUp = true;
        this.ready = true;
        if (this.cursor) this.setCursor(this.cursor.cursor, this.cursor.selectionAnchor);
        this.push();
        return;
      case 'ack': {
        const n = m.durable.get(this.doc.agent);
        if (m.doc === this.docName && n !== undefined) this.acked = Math.max(this.acked, n);
        this.#updateStatus();
        return;
      }
      case 'presence':
        if (m.doc !== this.docName || m.agent === this.doc.agent) return;
        this.peers.set(m.agent, { cursor: m.cursor, selectionAnchor: m.selectionAnchor, label: m.label });
        for (const fn of this.presenceListeners) fn(this.peers);
        return;
      case 'ping':
        this.#send({ type: 'pong', nonce: m.nonce, sentMicros: m.sentMicros });
        return;
      case 'error':
        if (m.codeName === 'auth failed') {
          this.#setStatus('auth-failed', m.reason);
          this.detail = m.reason;
          return;
        }
        this.detail = `node: ${m.reason}`;
        return;
      default:
        return;
    }
  }

  #ownSeqs() {
    return decodeVersion(this.doc.version()).get(this.doc.agent) ?? 0;
  }

  // Local edits the node has not acknowledged as durable yet (0 when all
  // are safe on the node).
  get unacknowledged() {
    return Math.max(0, this.#ownSeqs() - this.acked);
  }

  #updateStatus() {
    if (!this.ready) return;
    this.#setStatus(this.caughtUp && this.unacknowledged === 0 ? 'synced' : 'syncing');
  }

  #setStatus(status, detail = '') {
    if (status === this.status && detail === this.detail) return;
    this.status = status;
    this.detail = detail;
    for (const fn of this.statusListeners) fn(status, detail);
  }
}
