// The wire protocol's frames (proto/weft.proto, section 2; flows in
// proto/README.md) in plain JavaScript: the Protobuf encoding of each
// Frame a browser sends or receives, and the length prefix that frames
// them in the byte stream.
//
//   stream := (length:u32 little-endian, body:Frame){*}     1 <= length <= 16384
//
// Messages are plain objects with a `type` ('hello', 'opBatch', ...).
// 64-bit ids (node ids, agents) are bigints; seqs and counts are numbers;
// nonces, proofs and updates are Uint8Arrays. Decoding checks what the
// encoder relies on and throws on anything malformed.

export const PROTOCOL_VERSION = 1;
export const MAX_FRAME_BODY = 16384;
// The most update bytes one op batch frame carries (the rest of its body
// is the document name, at most 256 bytes, and field headers).
export const MAX_UPDATE_BYTES = 16384 - 300;

// Frame.body field numbers.
const FIELDS = {
  hello: 100, authChallenge: 101, authProof: 102, welcome: 103, subscribe: 104, opBatch: 105,
  syncDone: 106, ack: 107, presence: 108, ping: 109, pong: 110, error: 111,
};
const TYPES = Object.fromEntries(Object.entries(FIELDS).map(([k, v]) => [v, k]));

export const ERROR_CODES = ['unspecified', 'protocol', 'unsupported version', 'auth failed',
  'malformed', 'frame too large', 'foreign agent', 'overloaded', 'timeout', 'shutting down'];

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder('utf-8', { fatal: true });

// ---- Encoding --------------------------------------------------------------------

class Writer {
  constructor() { this.bytes = []; }
  varint(v) {
    v = BigInt(v);
    while (v >= 0x80n) {
      this.bytes.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    this.bytes.push(Number(v));
  }
  tag(field, wireType) { this.varint((field << 3) | wireType); }
  fixed64(v) {
    let x = BigInt.asUintN(64, BigInt(v));
    for (let i = 0; i < 8; i++, x >>= 8n) this.bytes.push(Number(x & 0xffn));
  }
  // A length-delimited field holding `data` (bytes).
  lengthDelimited(field, data) {
    this.tag(field, 2);
    this.varint(data.length);
    for (const b of data) this.bytes.push(b);
  }
  string(field, s) { if (s) this.lengthDelimited(field, utf8.encode(s)); }
  bytesField(field, b) { if (b && b.length) this.lengthDelimited(field, b); }
  uint(field, v) { if (v) { this.tag(field, 0); this.varint(v); } }
  bool(field, v) { if (v) { this.tag(field, 0); this.varint(1); } }
  fixed64Field(field, v) { if (v) { this.tag(field, 1); this.fixed64(v); } }
  message(field, build) {
    const inner = new Writer();
    build(inner);
    this.lengthDelimited(field, inner.bytes);
  }
  done() { return new Uint8Array(this.bytes); }
}

// Version vector: Map(agent bigint -> next seq number).
function writeVersion(w, field, version) {
  const entries = [...version].filter(([, n]) => n > 0);
  w.message(field, (v) => {
    if (entries.length === 0) return;
    const agents = new Writer();
    const seqs = new Writer();
    for (const [agent, next] of entries) {
      agents.fixed64(agent);
      seqs.varint(next);
    }
    v.lengthDelimited(1, agents.bytes);
    v.lengthDelimited(2, seqs.bytes);
  });
}

function writeAnchor(w, field, a) {
  w.message(field, (m) => {
    m.fixed64Field(1, a.hasId ? a.agent : 0n);
    m.uint(2, a.hasId ? a.seq : 0);
    m.bool(3, a.bias !== 'left');
  });
}

const ENCODERS = {
  hello(w, m) {
    w.uint(1, m.protocolVersion ?? PROTOCOL_VERSION);
    w.fixed64Field(2, m.nodeId);
    w.bytesField(3, m.clientNonce);
    if (m.agents?.length) {
      const agents = new Writer();
      for (const a of m.agents) agents.fixed64(a);
      w.lengthDelimited(4, agents.bytes);
    }
    w.string(5, m.label);
    w.bool(6, m.isNode);
  },
  authProof(w, m) { w.bytesField(1, m.proof); },
  subscribe(w, m) { w.string(1, m.doc); writeVersion(w, 2, m.have); },
  // An OpBatch body must be exactly this layout (doc, then update): nodes
  // read it in place.
  opBatch(w, m) { w.string(1, m.doc); w.bytesField(2, m.update); },
  presence(w, m) {
    w.string(1, m.doc);
    w.fixed64Field(2, m.agent);
    writeAnchor(w, 3, m.cursor);
    writeAnchor(w, 4, m.selectionAnchor ?? m.cursor);
    w.string(5, m.label);
  },
  ping(w, m) { w.uint(1, m.nonce); w.uint(2, m.sentMicros); },
  pong(w, m) { w.uint(1, m.nonce); w.uint(2, m.sentMicros); },
  error(w, m) { w.uint(1, m.code); w.string(2, m.reason); },
};

// The frame (length prefix and body) carrying message `m`.
export function encodeFrame(m) {
  const encode = ENCODERS[m.type];
  if (!encode) throw new Error(`cannot encode a ${m.type} frame`);
  const body = new Writer();
  body.message(FIELDS[m.type], (w) => encode(w, m));
  const b = body.done();
  if (b.length > MAX_FRAME_BODY) throw new Error(`frame of ${b.length} bytes is over the limit`);
  const out = new Uint8Array(4 + b.length);
  new DataView(out.buffer).setUint32(0, b.length, true);
  out.set(b, 4);
  return out;
}

// ---- Decoding --------------------------------------------------------------------

class Reader {
  constructor(bytes) { this.b = bytes; this.at = 0; }
  done() { return this.at >= this.b.length; }
  varint() {
    let v = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (this.at >= this.b.length) throw new Error('truncated varint');
      const byte = this.b[this.at++];
      v |= BigInt(byte & 0x7f) << shift;
      if (byte < 0x80) return BigInt.asUintN(64, v);
    }
    throw new Error('varint too long');
  }
  take(n) {
    if (n > this.b.length - this.at) throw new Error('truncated field');
    const out = this.b.subarray(this.at, this.at + n);
    this.at += n;
    return out;
  }
  fixed64() {
    const s = this.take(8);
    let v = 0n;
    for (let i = 7; i >= 0; i--) v = (v << 8n) | BigInt(s[i]);
    return v;
  }
  // Calls fn(field, wireType, reader) for each field; skips the rest.
  fields(fn) {
    while (!this.done()) {
      const key = Number(this.varint());
      const field = key >>> 3;
      const wireType = key & 7;
      if (wireType === 2) {
        const len = Number(this.varint());
        fn(field, 2, new Reader(this.take(len)));
      } else if (wireType === 0) {
        fn(field, 0, this.varint());
      } else if (wireType === 1) {
        fn(field, 1, this.fixed64());
      } else if (wireType === 5) {
        this.take(4);
      } else {
        throw new Error(`unsupported wire type ${wireType}`);
      }
    }
  }
}

const str = (r) => fromUtf8.decode(r.b);
const num = (v) => Number(v);

// Repeated fixed64 (packed or not) into `out`.
function fixed64s(type, value, out) {
  if (type === 1) out.push(value);
  else if (type === 2) while (!value.done()) out.push(value.fixed64());
}
function varints(type, value, out) {
  if (type === 0) out.push(value);
  else if (type === 2) while (!value.done()) out.push(value.varint());
}

function readVersion(r) {
  const agents = [];
  const seqs = [];
  r.fields((f, t, v) => {
    if (f === 1) fixed64s(t, v, agents);
    else if (f === 2) varints(t, v, seqs);
  });
  if (agents.length !== seqs.length) throw new Error('version vector columns differ in length');
  const out = new Map();
  agents.forEach((a, i) => out.set(a, num(seqs[i])));
  return out;
}

function readAnchor(r) {
  const a = { agent: 0n, seq: 0, bias: 'left' };
  r.fields((f, t, v) => {
    if (f === 1 && t === 1) a.agent = v;
    else if (f === 2 && t === 0) a.seq = num(v);
    else if (f === 3 && t === 0) a.bias = v ? 'right' : 'left';
  });
  a.hasId = a.agent !== 0n || a.seq !== 0;
  return a;
}

function bytesOf(r, size) {
  if (r.b.length !== size) throw new Error(`expected ${size} bytes`);
  return r.b.slice();
}

const DECODERS = {
  authChallenge(r, m) { r.fields((f, t, v) => { if (f === 1 && t === 2) m.serverNonce = bytesOf(v, 32); }); },
  welcome(r, m) {
    m.protocolVersion = 0;
    m.nodeId = 0n;
    r.fields((f, t, v) => {
      if (f === 1 && t === 0) m.protocolVersion = num(v);
      else if (f === 2 && t === 1) m.nodeId = v;
      else if (f === 3 && t === 2 && v.b.length) m.serverProof = bytesOf(v, 32);
      else if (f === 4 && t === 0) m.isNode = v !== 0n;
    });
  },
  opBatch(r, m) {
    r.fields((f, t, v) => {
      if (f === 1 && t === 2) m.doc = str(v);
      else if (f === 2 && t === 2) m.update = v.b.slice();
    });
  },
  syncDone(r, m) {
    m.version = new Map();
    r.fields((f, t, v) => {
      if (f === 1 && t === 2) m.doc = str(v);
      else if (f === 2 && t === 2) m.version = readVersion(v);
    });
  },
  ack(r, m) {
    m.durable = new Map();
    r.fields((f, t, v) => {
      if (f === 1 && t === 2) m.doc = str(v);
      else if (f === 2 && t === 2) m.durable = readVersion(v);
    });
  },
  presence(r, m) {
    r.fields((f, t, v) => {
      if (f === 1 && t === 2) m.doc = str(v);
      else if (f === 2 && t === 1) m.agent = v;
      else if (f === 3 && t === 2) m.cursor = readAnchor(v);
      else if (f === 4 && t === 2) m.selectionAnchor = readAnchor(v);
      else if (f === 5 && t === 2) m.label = str(v);
    });
  },
  ping(r, m) { m.nonce = 0n; m.sentMicros = 0n; r.fields((f, t, v) => { if (t === 0) { if (f === 1) m.nonce = v; else if (f === 2) m.sentMicros = v; } }); },
  pong(r, m) { DECODERS.ping(r, m); },
  error(r, m) {
    m.code = 0;
    m.reason = '';
    r.fields((f, t, v) => {
      if (f === 1 && t === 0) m.code = num(v);
      else if (f === 2 && t === 2) m.reason = str(v);
    });
    m.codeName = ERROR_CODES[m.code] ?? 'unspecified';
  },
};

// The message in one frame body. Types a client never receives (hello,
// auth proof, subscribe) decode to {type} only.
export function decodeFrame(body) {
  const r = new Reader(body);
  let out = null;
  r.fields((field, type, value) => {
    const name = TYPES[field];
    if (!name || type !== 2) throw new Error(`frame of unknown type ${field}`);
    if (out) throw new Error('frame with two bodies');
    out = { type: name };
    DECODERS[name]?.(value, out);
  });
  if (!out) throw new Error('empty frame');
  return out;
}

// Cuts a byte stream into frame bodies, whatever the chunks it arrives in.
export class FrameReader {
  constructor() {
    this.buf = new Uint8Array(0);
  }
  // Appends `chunk`; returns the complete bodies it finished. Throws on a
  // length prefix of 0 or over the limit.
  push(chunk) {
    const joined = new Uint8Array(this.buf.length + chunk.length);
    joined.set(this.buf);
    joined.set(chunk, this.buf.length);
    const bodies = [];
    let at = 0;
    while (joined.length - at >= 4) {
      const len = new DataView(joined.buffer, joined.byteOffset + at, 4).getUint32(0, true);
      if (len === 0 || len > MAX_FRAME_BODY) throw new Error(`frame length ${len}`);
      if (joined.length - at - 4 < len) break;
      bodies.push(joined.subarray(at + 4, at + 4 + len));
      at += 4 + len;
    }
    this.buf = joined.slice(at);
    return bodies;
  }
}
