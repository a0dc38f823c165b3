'use strict';
// A Node.js client of the ace3d explanation service: TorchServe's gRPC inference API (Predictions and
// StreamPredictions) with the project's .proto files, loaded at run time from the repository's proto/ (the one
// source of the wire schema; nothing generated is committed here). What it adds over raw stubs, like the
// Python client (clients/python/ace3d_client/client.py): the receive limit raised to the server's 66 MiB, a deadline on
// every call, the inference key as `authorization: Bearer` metadata, the caller's absolute deadline as an
// input, a serialized ExplainOptions, and one error type for a failed call and for an answer whose
// Explanation.error is set. Explanations decode to protobufjs messages; `volume` turns a Volume (zlib, C order)
// into a typed array, `toCanonicalJson` gives the proto3 JSON mapping `ace3d client --json` writes.

const fs = require('node:fs');
const path = require('node:path');
const zlib = require('node:zlib');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const protobuf = require('protobufjs');

const MAX_MESSAGE = 66 * 1024 * 1024; // the server's max_request_size / max_response_size
const DEFAULT_PROTO_DIR = path.resolve(__dirname, '..', '..', 'proto');
const INPUT = { video: 'video', options: 'options', deadline: 'deadline', stream: 'stream' };
const GRPC_TO_HTTP = { INVALID_ARGUMENT: 400, RESOURCE_EXHAUSTED: 413, UNAUTHENTICATED: 401,
  PERMISSION_DENIED: 403, NOT_FOUND: 404, DEADLINE_EXCEEDED: 504, UNAVAILABLE: 503 };
const HTTP_TO_GRPC = { 400: 'INVALID_ARGUMENT', 413: 'RESOURCE_EXHAUSTED', 500: 'INTERNAL', 504: 'DEADLINE_EXCEEDED' };
const TS_SUFFIX = 'org.pytorch.serve.http.InternalServerException'; // TorchServe appends it to every error
const CODE_NAMES = Object.fromEntries(Object.entries(grpc.status).map(([k, v]) => [v, k]));

/** The server refused or failed a call: `code` the gRPC status name, `status` its HTTP-style twin. */
class RemoteError extends Error {
  constructor(message, code, reason) {
    super(message);
    this.name = 'RemoteError';
    this.code = code;
    this.status = GRPC_TO_HTTP[code] || 500;
    this.reason = reason || code.toLowerCase();
  }
}

function fromRpc(err) {
  const code = CODE_NAMES[err.code] || 'UNKNOWN';
  const details = String(err.details || err.message || '').split('\n')
    .filter((line) => line.trim() !== TS_SUFFIX).join('\n').trim();
  return new RemoteError(`server answered ${code}: ${details}`, code);
}

/** The schema: explanation.proto through protobufjs (decode, reflection), inference.proto through proto-loader. */
function loadSchema(protoDir = process.env.ACE3D_PROTO_DIR || DEFAULT_PROTO_DIR) {
  const root = new protobuf.Root();
  root.resolvePath = (origin, target) => {
    const local = path.join(protoDir, target);
    return fs.existsSync(local) ? local : protobuf.util.path.resolve(origin, target);
  };
  root.loadSync(path.join(protoDir, 'ace3d', 'v1', 'explanation.proto'));
  root.resolveAll();
  const def = protoLoader.loadSync(path.join(protoDir, 'ace3d', 'v1', 'inference.proto'),
    { includeDirs: [protoDir], keepCase: true, defaults: false });
  const inference = grpc.loadPackageDefinition(def).org.pytorch.serve.grpc.inference;
  return {
    Explanation: root.lookupType('ace3d.v1.Explanation'),
    ExplainOptions: root.lookupType('ace3d.v1.ExplainOptions'),
    Service: inference.InferenceAPIsService,
  };
}

/** The inference key: given directly, or read from TorchServe's key_file.json. */
function readToken({ token, tokenFile } = {}) {
  if (token) return token;
  if (!tokenFile) return null;
  try {
    return JSON.parse(fs.readFileSync(tokenFile, 'utf8')).inference.key;
  } catch (e) {
    throw new Error(`cannot read the inference key from ${tokenFile}: ${e.message}`);
  }
}

class Ace3dClient {
  /**
   * @param {string} target HOST:PORT of TorchServe's gRPC inference API
   * @param {object} [opts] model (default "demo"), token, deadline (seconds, default 120), tlsCa (PEM path), protoDir
   */
  constructor(target, { model = 'demo', token = null, deadline = 120, tlsCa = null, protoDir } = {}) {
    this.schema = loadSchema(protoDir);
    const creds = tlsCa ? grpc.credentials.createSsl(fs.readFileSync(tlsCa)) : grpc.credentials.createInsecure();
    this.stub = new this.schema.Service(target, creds, {
      'grpc.max_receive_message_length': MAX_MESSAGE, 'grpc.max_send_message_length': MAX_MESSAGE });
    this.model = model;
    this.deadline = deadline;
    this.metadata = new grpc.Metadata();
    if (token) this.metadata.set('authorization', `Bearer ${token}`);
  }

  close() {
    this.stub.close();
  }

  /** The PredictionsRequest: video, serialized ExplainOptions, the absolute deadline (Unix seconds). */
  request(video, options = {}, stream = false) {
    const { ExplainOptions } = this.schema;
    const problem = ExplainOptions.verify(options);
    if (problem) throw new Error(`bad options: ${problem}`);
    const input = {
      [INPUT.video]: Buffer.from(video),
      [INPUT.options]: Buffer.from(ExplainOptions.encode(ExplainOptions.fromObject(options)).finish()),
      [INPUT.deadline]: Buffer.from((Date.now() / 1000 + this.deadline).toFixed(3)),
    };
    if (stream) input[INPUT.stream] = Buffer.from('1');
    return { model_name: this.model, input };
  }

  /** A decoded Explanation, or a RemoteError when the server put an error in it. */
  decode(prediction) {
    const exp = this.schema.Explanation.decode(prediction);
    Object.defineProperty(exp, '$raw', { value: Buffer.from(prediction), enumerable: false }); // the bytes received
    if (exp.error) {
      const code = HTTP_TO_GRPC[exp.error.status] || 'UNKNOWN';
      throw new RemoteError(`server answered ${code}: ${exp.error.message}`, code, exp.error.reason || null);
    }
    return exp;
  }

  callOptions() {
    return { deadline: new Date(Date.now() + this.deadline * 1000) };
  }

  /** Predictions: one call, the final Explanation (every clip). */
  explain(video, options = {}) {
    const req = this.request(video, options);
    return new Promise((resolve, reject) => {
      this.stub.Predictions(req, this.metadata, this.callOptions(), (err, resp) => {
        if (err) return reject(fromRpc(err));
        try {
          resolve(this.decode(resp.prediction));
        } catch (e) {
          reject(e);
        }
      });
    });
  }

  /** StreamPredictions: yields one partial Explanation per clip as it is done, then the final one. */
  async *stream(video, options = {}) {
    const call = this.stub.StreamPredictions(this.request(video, options, true), this.metadata, this.callOptions());
    try {
      for await (const resp of call) yield this.decode(resp.prediction);
    } catch (e) {
      if (e instanceof RemoteError) throw e;
      throw fromRpc(e);
    } finally {
      call.cancel(); // a caller that stops reading early must not leave the call open (no-op once it ended)
    }
  }

  /** The cheap path: predictions only, no concepts. */
  classify(video, { topK = 5, maxClips = 1 } = {}) {
    return this.explain(video, { classifyOnly: true, topK, maxClips });
  }
}

// ------------------------------------------------------------------------------------------------ decoding
const DTYPES = { float16: null, float32: Float32Array, uint8: Uint8Array, uint16: Uint16Array };

function halfToFloat(h) {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

/** A Volume as {shape, dtype, data}: data a typed array in C order (float16 widened to Float32Array). */
function volume(vol) {
  if (!(vol.dtype in DTYPES)) throw new Error(`volume dtype ${JSON.stringify(vol.dtype)} not in ${Object.keys(DTYPES)}`);
  const raw = zlib.inflateSync(vol.data);
  const bytes = raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength); // aligned copy
  let data;
  if (vol.dtype === 'float16') {
    const half = new Uint16Array(bytes);
    data = Float32Array.from(half, halfToFloat);
  } else {
    data = new DTYPES[vol.dtype](bytes);
  }
  const shape = Array.from(vol.shape);
  const n = shape.reduce((a, b) => a * b, 1);
  if (data.length !== n) throw new Error(`volume of shape [${shape}] holds ${data.length} values, not ${n}`);
  return { shape, dtype: vol.dtype, data };
}

// ------------------------------------------------------------------------------------------- canonical JSON
/** A float32 as the shortest decimal that reads back to the same float32 (what protobuf's JSON writes). */
function shortestFloat32(x) {
  if (!Number.isFinite(x)) return Number.isNaN(x) ? 'NaN' : (x > 0 ? 'Infinity' : '-Infinity');
  for (let p = 6; p < 10; p++) {
    const v = Number(x.toPrecision(p));
    if (Math.fround(v) === x) return v;
  }
  return x;
}

function scalarJson(type, value, resolved) {
  if (resolved instanceof protobuf.Enum) return resolved.valuesById[value] ?? value;
  switch (type) {
    case 'float': return shortestFloat32(value);
    case 'double': return Number.isFinite(value) ? value : String(value);
    case 'bytes': return Buffer.from(value).toString('base64');
    case 'int64': case 'uint64': case 'sint64': case 'fixed64': case 'sfixed64': return String(value);
    default: return value;
  }
}

function isDefault(field, value) {
  if (field.resolvedType instanceof protobuf.Type) return value == null;
  if (field.type === 'bytes') return value == null || value.length === 0;
  return value == null || value === 0 || value === '' || value === false;
}

/** The canonical proto3 JSON mapping of a decoded message, as Python's json_format.MessageToDict writes it:
 *  lowerCamelCase names, fields at their default left out (unless `optional` and set), enums by name, bytes in
 *  base64, floats at their shortest float32 form. */
function toCanonicalJson(msg, type = msg.$type) {
  const out = {};
  for (const field of type.fieldsArray) {
    const value = msg[field.name];
    const sub = field.resolvedType;
    const convert = (v) => (sub instanceof protobuf.Type ? toCanonicalJson(v, sub) : scalarJson(field.type, v, sub));
    if (field.map) {
      const keys = Object.keys(value || {});
      if (keys.length) out[field.name] = Object.fromEntries(keys.map((k) => [k, convert(value[k])]));
    } else if (field.repeated) {
      if (value && value.length) out[field.name] = Array.from(value, convert);
    } else if (field.hasPresence || field.options?.proto3_optional) {
      if (Object.prototype.hasOwnProperty.call(msg, field.name) && value != null) out[field.name] = convert(value);
    } else if (!isDefault(field, value)) {
      out[field.name] = convert(value);
    }
  }
  return out;
}

// ----------------------------------------------------------------------------------------------- the table
/** Python's '{:.Nf}' (non-finite values as Python writes them). */
const fix = (x, n) => (Number.isFinite(x) ? x.toFixed(n) : (Number.isNaN(x) ? 'nan' : (x > 0 ? 'inf' : '-inf')));
const pct = (x) => `${fix(x * 100, 1)}%`;
/** Python's '{:.2g}': two significant digits, exponent form below 1e-4 or from 100, trailing zeros dropped. */
function g2(x) {
  if (!Number.isFinite(x)) return Number.isNaN(x) ? 'nan' : (x > 0 ? 'inf' : '-inf');
  if (x === 0) return Object.is(x, -0) ? '-0' : '0';
  const [mant, e] = x.toExponential(1).split('e');
  const exp = Number(e);
  if (exp < -4 || exp >= 2) {
    return `${mant.replace(/\.0$/, '')}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  }
  return String(Number(x.toPrecision(2)));
}

/** The plain-text summary `ace3d client` prints (ace3d/report.py `table`), line for line. */
function table(exp) {
  const has = (m, f) => Object.prototype.hasOwnProperty.call(m, f) && m[f] != null;
  const lines = [`model ${exp.modelName}  bank ${exp.bankId || 'none'}  features ${exp.featureMode || '-'}`];
  lines.push('prediction: ' + exp.scores.map((s) => `${s.name} ${fix(s.probability, 3)}`).join(', ')
    + (exp.scoredClips > 1 ? `  (mean of ${exp.scoredClips} clips)` : ''));
  lines.push(`target: ${exp.targetClass}`);
  const all = exp.clips.flatMap((c) => c.concepts);
  for (const clip of exp.clips) {
    const fr = clip.frameIndices;
    const span = fr.length ? `frames ${fr[0]}-${fr[fr.length - 1]}` : 'frames -';
    const r = clip.region || { x: 0, y: 0, width: 0, height: 0 };
    lines.push(`\nclip ${clip.clipIndex} (${span}, region ${r.x},${r.y} ${r.width}x${r.height}, `
      + `${clip.supervoxelCount} supervoxels)`);
    if (!clip.concepts.length) {
      lines.push(has(clip, 'heatmap') ? '  no concepts present' : '  (classification only)');
      continue;
    }
    lines.push(`  target logit ${fix(clip.instanceScore, 3)}; top concept removed `
      + `${fix(clip.topConceptRemovedScore, 3)}; all present concepts removed ${fix(clip.baselineScore, 3)}`);
    if (clip.collapsed) {
      lines.push(`  collapsed concept map: the top concept covers ${pct(clip.topCoverage)} of the clip, `
        + 'so it says little about where the evidence is');
    }
    lines.push(`  ${'#'.padStart(2)} ${'concept'.padEnd(26)} ${'importance'.padStart(10)} ${'TCAV'.padStart(6)} `
      + `${'p(BH)'.padStart(8)} ${'p(raw)'.padStart(8)} ${'cover'.padStart(6)}`);
    clip.concepts.forEach((c, i) => {
      const sig = c.significant ? '*' : ' ';
      const stats = has(c, 'tcavScore')
        ? `${fix(c.tcavScore, 2).padStart(6)} ${g2(c.pValue).padStart(8)} ${g2(c.pValueRaw).padStart(8)}${sig}`
        : `${'-'.padStart(6)} ${'-'.padStart(8)} ${'-'.padStart(8)} `;
      lines.push(`  ${String(i + 1).padStart(2)} ${c.name.padEnd(26)} ${fix(c.importance, 3).padStart(10)} `
        + `${stats}${pct(c.coverage).padStart(6)}`);
    });
  }
  if (all.some((c) => has(c, 'tcavScore'))) lines.push('\n* significant after Benjamini-Hochberg correction');
  if (all.some((c) => c.source === 1)) {
    lines.push('clip/group_<n>: groups of this clip\'s own supervoxels (the bank has no concepts for the target)');
  }
  return lines.join('\n');
}

module.exports = { Ace3dClient, RemoteError, loadSchema, readToken, volume, toCanonicalJson, table, MAX_MESSAGE };
