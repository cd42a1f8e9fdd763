#!/usr/bin/env node
// vitrine Node client: written from protos/vitrine/v1/assets.proto alone, loaded at run time
// with @grpc/proto-loader (no generated code). See clients/node/README.md.
//
//   node clients/node/vitrine_client.mjs [--address HOST:PORT] models
//   node clients/node/vitrine_client.mjs [--address HOST:PORT] generate MODEL --category C
//        [--seed N] [--max-triangles N] [--pivot P] ... [--progressive] -o OUTDIR
//   node clients/node/vitrine_client.mjs [--address HOST:PORT] fetch ASSET_ID
//        [--file-index I --offset O] -o OUTDIR
//   node clients/node/vitrine_client.mjs [--address HOST:PORT] render ASSET_ID[@X,Z[,YAW]]...
//        [--frames N] [--size PX] [--image-format jpeg|png] [--pace-ms MS] -o OUTDIR
//
// render opens one RenderService.Render stream (protos/vitrine/v1/render.proto, beside
// assets.proto): the session, then N orbit poses (all at once with --pace-ms 0: the server
// renders the newest and drops the rest, latest pose wins), writing each frame it gets.
//
// generate --progressive asks for progressive streaming (GenerateRequest.progressive): on a
// cache miss each file comes as soon as the server has built it (coarsest LOD first), announced
// by an AssetPart.file part; each is written to OUTDIR, and named on stderr, the moment it is
// complete and verified.
//
// generate's option flags are the fields of vitrine.v1.Options, read from the .proto at run
// time (--max-triangles for max_triangles, enum values by name), so a new option needs no edit.
//
// stdout: JSON only (the catalog for `models`; a one-line summary for `generate`/`fetch`).
// Exit codes, as the Python `vitrine` command's: 0 success; 1 the server refused the call (a
// gRPC status, stderr "error: STATUS_NAME: details"), a file failed its size/sha256 check or
// the server broke the protocol; 2 bad command line; 3 the server is unreachable
// (UNAVAILABLE); 70 a bug in this client.

import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { constants as bufferConstants } from 'node:buffer';

import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

const SCRIPT_DIR = dirname(fileURLToPath(import.meta.url));
const DEFAULT_PROTO = resolve(SCRIPT_DIR, '..', '..', 'protos', 'vitrine', 'v1', 'assets.proto');
const DEFAULT_ADDRESS = process.env.VITRINE_ADDRESS || '127.0.0.1:50051';

const EXIT_OK = 0;
const EXIT_REFUSED = 1; // a gRPC status, a failed size/sha256 check, a protocol error
const EXIT_USAGE = 2;
const EXIT_UNREACHABLE = 3;
const EXIT_INTERNAL = 70;

const UINT32_MAX = 0xffffffffn;
const UINT64_MAX = 0xffffffffffffffffn;
const MAX_SEED = (1n << 63n) - 1n; // the server's seed range: 0 to 2^63-1 (0 = it picks)

// Integer ranges of the proto scalar types an Options field may have.
const INT_RANGES = {
  TYPE_UINT32: [0n, UINT32_MAX], TYPE_FIXED32: [0n, UINT32_MAX],
  TYPE_UINT64: [0n, UINT64_MAX], TYPE_FIXED64: [0n, UINT64_MAX],
  TYPE_INT32: [-(1n << 31n), (1n << 31n) - 1n], TYPE_SINT32: [-(1n << 31n), (1n << 31n) - 1n],
  TYPE_SFIXED32: [-(1n << 31n), (1n << 31n) - 1n],
  TYPE_INT64: [-(1n << 63n), MAX_SEED], TYPE_SINT64: [-(1n << 63n), MAX_SEED],
  TYPE_SFIXED64: [-(1n << 63n), MAX_SEED],
};

function usage(optionSpecs) {
  const flags = optionSpecs.map((o) => `[--${o.flag} ${o.metavar}]`);
  const lines = [];
  let line = '                    ';
  for (const f of flags) {
    if (line.length + f.length > 92) {
      lines.push(line);
      line = '                    ';
    }
    line += ` ${f}`;
  }
  lines.push(line);
  const enums = optionSpecs.filter((o) => o.kind === 'enum')
    .map((o) => `  --${o.flag}  ${o.choices.join(' | ')} (or ${o.values.join(' | ')})`);
  return `usage:
  vitrine_client.mjs [--address HOST:PORT] [--proto FILE] [--timeout S] [--token T]
                    [--ca-file PEM | --tls] [--cert-file PEM --key-file PEM] models
  vitrine_client.mjs [...] generate MODEL --category C [--seed N] [--progressive]
${lines.join('\n')} -o OUTDIR
  vitrine_client.mjs [...] fetch ASSET_ID [--file-index I --offset O] -o OUTDIR
  vitrine_client.mjs [...] render ASSET_ID[@X,Z[,YAW]]... [--frames N] [--size PX]
                    [--image-format jpeg|png] [--pace-ms MS] -o OUTDIR

  --address   server address (default $VITRINE_ADDRESS or 127.0.0.1:50051)
  --proto     path to vitrine/v1/assets.proto (default: the repository's copy)
  --timeout   deadline of the call in seconds (default: none)
  --token     bearer token for a server started with --auth-tokens (default $VITRINE_TOKEN)
  --ca-file   connect with TLS, trusting this CA's PEM (the server's --tls-cert signer)
  --tls       connect with TLS, trusting the system's CAs
  --cert-file, --key-file   this client's certificate and key, for a server that wants one
  --seed      0 to 2^63-1; 0 or none: the server picks (and reports it)
  --progressive  stream each file as soon as it is built; each is written when verified
generate's options are the fields of vitrine.v1.Options in that .proto; enum values:
${enums.join('\n')}

exit codes: 0 ok, 1 the server refused (stderr "error: STATUS: details"), a file failed its
            size/sha256 check, or a protocol error; 2 bad command line; 3 server unreachable;
            70 a bug in this client`;
}

class UsageError extends Error {}
class CheckError extends Error {}

// ---------------------------------------------------------------------------------------
// Command line

const COMMON_OPTIONS = {
  address: { type: 'string' },
  proto: { type: 'string' },
  timeout: { type: 'string' },
  token: { type: 'string' },
  'ca-file': { type: 'string' },
  tls: { type: 'boolean' },
  'cert-file': { type: 'string' },
  'key-file': { type: 'string' },
  category: { type: 'string' },
  seed: { type: 'string' },
  'file-index': { type: 'string' },
  offset: { type: 'string' },
  frames: { type: 'string' },
  size: { type: 'string' },
  'image-format': { type: 'string' },
  'pace-ms': { type: 'string' },
  progressive: { type: 'boolean' },
  out: { type: 'string', short: 'o' },
  help: { type: 'boolean', short: 'h' },
};

// --proto before everything else: the option flags are read from that file.
function protoPathOf(argv) {
  const { values } = parseArgs({ args: argv, allowPositionals: true, strict: false,
    options: { proto: { type: 'string' } } });
  return resolve(typeof values.proto === 'string' ? values.proto : DEFAULT_PROTO);
}

// One entry per field of vitrine.v1.Options, as the .proto declares it.
function optionSpecsOf(packageDefinition) {
  const message = packageDefinition['vitrine.v1.Options'];
  if (!message) throw new UsageError('the .proto has no message vitrine.v1.Options');
  return message.type.field.map((f) => {
    const spec = { field: f.name, flag: f.name.replace(/_/g, '-') };
    if (f.type === 'TYPE_ENUM') {
      const name = f.typeName.replace(/^\./, '');
      const fullName = name.includes('.') ? name : `vitrine.v1.${name}`;
      const values = enumNames(packageDefinition, fullName);
      const prefix = enumPrefix(packageDefinition, fullName);
      return { ...spec, kind: 'enum', metavar: 'V', values, prefix,
        choices: values.map((v) => v.slice(prefix.length).toLowerCase()) };
    }
    if (f.type in INT_RANGES) {
      const [lo, hi] = INT_RANGES[f.type];
      return { ...spec, kind: 'int', metavar: 'N', lo, hi, long: f.type.endsWith('64') };
    }
    if (f.type === 'TYPE_FLOAT' || f.type === 'TYPE_DOUBLE') return { ...spec, kind: 'float', metavar: 'X' };
    if (f.type === 'TYPE_BOOL') return { ...spec, kind: 'bool', metavar: 'true|false' };
    return { ...spec, kind: 'string', metavar: 'S' };
  });
}

// The enum's value-name prefix, "PIVOT_" for vitrine.v1.Pivot: its *_UNSPECIFIED value's, else
// the type name in upper snake case (the proto style guide's rule).
function enumPrefix(packageDefinition, fullName) {
  const def = packageDefinition[fullName];
  const all = def && def.type && def.type.value ? def.type.value.map((v) => v.name) : [];
  const unspecified = all.find((n) => n.endsWith('_UNSPECIFIED'));
  if (unspecified) return unspecified.slice(0, -'UNSPECIFIED'.length);
  const snake = fullName.split('.').pop().replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase() + '_';
  return all.every((n) => n.startsWith(snake)) ? snake : '';
}

function parseCommandLine(argv, optionSpecs) {
  const options = { ...COMMON_OPTIONS };
  for (const o of optionSpecs) {
    if (!(o.flag in options)) options[o.flag] = { type: 'string' };
  }
  try {
    return parseArgs({ args: argv, allowPositionals: true, strict: true, options });
  } catch (err) {
    throw new UsageError(err.message);
  }
}

// The Options message of a generate request: only the flags given (the server's defaults
// fill the rest).
function optionsOf(values, optionSpecs) {
  const options = {};
  for (const o of optionSpecs) {
    const text = values[o.flag];
    if (text === undefined) continue;
    if (o.kind === 'enum') {
      options[o.field] = parseEnum(text, o.flag, o.prefix, o.values);
    } else if (o.kind === 'int') {
      const v = parseInteger(text, o.flag, o.lo, o.hi);
      options[o.field] = o.long ? v.toString() : Number(v);
    } else if (o.kind === 'float') {
      const x = Number(text);
      if (text.trim() === '' || !Number.isFinite(x)) throw new UsageError(`--${o.flag} must be a number, got ${JSON.stringify(text)}`);
      options[o.field] = x;
    } else if (o.kind === 'bool') {
      if (text !== 'true' && text !== 'false') throw new UsageError(`--${o.flag} must be true or false`);
      options[o.field] = text === 'true';
    } else {
      options[o.field] = text;
    }
  }
  return options;
}

function bound(v) {
  const k = (v + 1n).toString(2).length - 1;
  return v >= 1n << 53n && v + 1n === 1n << BigInt(k) ? `2^${k}-1` : v.toString();
}

function parseInteger(text, name, lo, hi) {
  if (!/^-?[0-9]+$/.test(text) || BigInt(text) < lo || BigInt(text) > hi) {
    throw new UsageError(`--${name} must be an integer from ${bound(lo)} to ${bound(hi)}, got ${JSON.stringify(text)}`);
  }
  return BigInt(text);
}

function parseUint(text, name, max) {
  if (text === undefined) return undefined;
  if (!/^[0-9]+$/.test(text)) throw new UsageError(`--${name} must be a non-negative integer, got ${JSON.stringify(text)}`);
  const value = BigInt(text);
  if (value > max) throw new UsageError(`--${name} must be at most ${max}, got ${text}`);
  return value;
}

function parseEnum(text, name, prefix, allowed) {
  if (text === undefined) return undefined;
  let value = text.trim().toUpperCase().replace(/-/g, '_');
  if (!value.startsWith(prefix)) value = prefix + value;
  if (!allowed.includes(value)) {
    throw new UsageError(`--${name} must be one of ${allowed.join(', ')}, got ${JSON.stringify(text)}`);
  }
  return value;
}

function enumNames(packageDefinition, fullName) {
  const def = packageDefinition[fullName];
  const values = def && def.type && def.type.value ? def.type.value.map((v) => v.name) : [];
  return values.filter((v) => !v.endsWith('_UNSPECIFIED'));
}

function requireOut(values) {
  if (!values.out) throw new UsageError('-o OUTDIR is required');
  return values.out;
}

function rejectOptions(values, names, command) {
  for (const name of names) {
    if (values[name] !== undefined) throw new UsageError(`--${name} does not apply to ${command}`);
  }
}

const generateOnly = (optionSpecs) => ['category', 'seed', 'progressive',
  ...optionSpecs.map((o) => o.flag)];
const FETCH_ONLY = ['file-index', 'offset'];
const RENDER_ONLY = ['frames', 'size', 'image-format', 'pace-ms'];

// ---------------------------------------------------------------------------------------
// gRPC

function loadService(protoPath) {
  if (!existsSync(protoPath)) throw new UsageError(`proto file not found: ${protoPath}`);
  const options = { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true };
  // In the usual layout (.../vitrine/v1/assets.proto) load it relative to the folder above
  // vitrine/, like protoc -I, so any imports the contract gains later resolve the same way.
  let target = protoPath;
  const includeDir = resolve(dirname(protoPath), '..', '..');
  if (relative(includeDir, protoPath).split(sep).join('/') === 'vitrine/v1/assets.proto') {
    target = 'vitrine/v1/assets.proto';
    options.includeDirs = [includeDir];
  }
  const packageDefinition = protoLoader.loadSync(target, options);
  const proto = grpc.loadPackageDefinition(packageDefinition);
  return { AssetService: proto.vitrine.v1.AssetService, packageDefinition };
}

function statusName(code) {
  return grpc.status[code] ?? `STATUS_${code}`;
}

class GrpcCallError extends Error {
  constructor(err, address, { midStream = false } = {}) {
    const name = statusName(err.code);
    let details = err.details || err.message;
    if (err.code === grpc.status.UNAVAILABLE && midStream) {
      details = `the server at ${address} went away during the call (${details})`;
    } else if (err.code === grpc.status.UNAVAILABLE) {
      details = `the server at ${address} is not reachable (${details}); start one with ` +
        '`make serve` in the repository root, or pass --address HOST:PORT';
    }
    super(`${name}: ${details}`);
    this.code = err.code;
  }
}

// TLS when a CA, --tls or a client certificate is given; plaintext otherwise.
function credentialsOf(values) {
  const read = (flag) => {
    try {
      return readFileSync(values[flag]);
    } catch (err) {
      throw new UsageError(`--${flag}: cannot read ${values[flag]} (${err.code || err.message})`);
    }
  };
  if ((values['cert-file'] === undefined) !== (values['key-file'] === undefined)) {
    throw new UsageError('--cert-file and --key-file go together');
  }
  if (!values['ca-file'] && !values.tls && !values['cert-file']) {
    return grpc.credentials.createInsecure();
  }
  return grpc.credentials.createSsl(
    values['ca-file'] ? read('ca-file') : null,
    values['key-file'] ? read('key-file') : null,
    values['cert-file'] ? read('cert-file') : null,
  );
}

// `authorization: Bearer <token>` on every call when a token is given.
function metadataOf(values) {
  const metadata = new grpc.Metadata();
  const token = values.token ?? process.env.VITRINE_TOKEN;
  if (token) metadata.set('authorization', `Bearer ${token}`);
  return metadata;
}

function callOptions(timeoutS) {
  if (timeoutS === undefined) return {};
  return { deadline: new Date(Date.now() + timeoutS * 1000) };
}

// ---------------------------------------------------------------------------------------
// Reassembly

function checkFileName(name, index) {
  if (typeof name !== 'string' || name === '' || name === '.' || name === '..' ||
      basename(name) !== name || name.includes('\\') || name === 'header.json') {
    throw new CheckError(`protocol error: header file ${index} has an unsafe name ${JSON.stringify(name)}`);
  }
}

// Collects one asset from a stream of AssetParts: a header, then chunks written at their
// offsets. `resume` (Fetch from file_index/offset) seeds the bytes the server will not send
// from files already in OUTDIR.
class Assembler {
  constructor({ outDir, resumeFileIndex = 0, resumeOffset = 0n, eager = false }) {
    this.outDir = outDir;
    this.eager = eager; // write (and name on stderr) each file as soon as it is verified
    this.written = new Set();
    this.resumeFileIndex = resumeFileIndex;
    this.resumeOffset = resumeOffset;
    this.header = null;
    this.buffers = [];
    this.received = []; // contiguous bytes known from offset 0 (for the resume hint)
    this.hashes = []; // per file: sha256 over bytes [0, hashed[i]) so far
    this.hashed = [];
    this.stale = new Set(); // files whose hashed bytes a later chunk overwrote
    this.problems = [];
  }

  // Hash file i's newly contiguous bytes as they arrive, so finish() has (almost) nothing
  // left to hash after the last chunk.
  advanceHash(i) {
    if (this.received[i] > this.hashed[i]) {
      this.hashes[i].update(this.buffers[i].subarray(this.hashed[i], this.received[i]));
      this.hashed[i] = this.received[i];
    }
  }

  onPart(part) {
    if (part.part === 'error') {
      const e = part.error || {};
      throw new CheckError(`protocol error: server sent an AssetPart.error in a single-asset call: ` +
        `code ${e.code} ${e.field ? `(${e.field}) ` : ''}${e.message}`);
    }
    if (part.part === 'header') {
      if (this.header !== null) throw new CheckError('protocol error: a second AssetHeader in one asset');
      this.onHeader(part.header);
      return;
    }
    if (part.part === 'chunk') {
      if (this.header === null) throw new CheckError('protocol error: a Chunk before the AssetHeader');
      this.onChunk(part.chunk);
      return;
    }
    if (part.part === 'file') {
      if (this.header === null) throw new CheckError('protocol error: a file part before the AssetHeader');
      this.onFile(part.file);
      return;
    }
    throw new CheckError(`protocol error: an AssetPart with no part set`);
  }

  // Files the asset has: the header's file_count (0 from older servers: all are listed).
  fileCount() {
    return Number(this.header.file_count || 0) || (this.header.files || []).length;
  }

  openFile(f, i) {
    checkFileName(f.name, i);
    const size = Number(f.size_bytes);
    if (!Number.isSafeInteger(size) || size < 0 || size > bufferConstants.MAX_LENGTH) {
      throw new CheckError(`protocol error: file ${f.name} has an impossible size ${f.size_bytes}`);
    }
    this.buffers.push(Buffer.alloc(size));
    this.received.push(0);
    this.hashes.push(createHash('sha256'));
    this.hashed.push(0);
  }

  // A progressive Generate's next file: it takes the next file_index.
  onFile(f) {
    const files = this.header.files || (this.header.files = []);
    if (files.length >= this.fileCount()) {
      throw new CheckError(`protocol error: file part ${f.name} past the asset's ${this.fileCount()} files`);
    }
    this.openFile(f, files.length);
    files.push(f);
  }

  // With `eager`, write file i (and say so on stderr) once all of it arrived and its sha256
  // matches, so a viewer can open the coarsest LOD while the finer ones stream.
  maybeWrite(i) {
    const f = this.header.files[i];
    if (!this.eager || this.written.has(i) || this.received[i] !== this.buffers[i].length) return;
    if (this.hashed[i] !== this.buffers[i].length || this.stale.has(i)) return; // finish() checks it
    const sha256 = this.hashes[i].copy().digest('hex');
    if (sha256 !== String(f.sha256).toLowerCase()) return; // finish() reports it
    mkdirSync(this.outDir, { recursive: true });
    writeFileSync(join(this.outDir, f.name), this.buffers[i]);
    this.written.add(i);
    process.stderr.write(`${f.name}: ${this.buffers[i].length} bytes, verified\n`);
  }

  onHeader(header) {
    this.header = header;
    const files = header.files || [];
    files.forEach((f, i) => this.openFile(f, i));
    if (this.resumeFileIndex > 0 || this.resumeOffset > 0n) {
      if (this.resumeFileIndex >= files.length) {
        throw new CheckError(`--file-index ${this.resumeFileIndex} is past the asset's ${files.length} files`);
      }
      // Bytes before (file_index, offset) are not sent: take them from OUTDIR when present.
      for (let i = 0; i <= this.resumeFileIndex; i++) {
        const want = i < this.resumeFileIndex ? this.buffers[i].length : Number(this.resumeOffset);
        const path = join(this.outDir, files[i].name);
        if (want === 0) continue;
        if (!existsSync(path)) {
          this.problems.push(`${files[i].name}: bytes 0..${want} were not requested and ${path} does not exist`);
          continue;
        }
        const have = readFileSync(path);
        const n = Math.min(want, have.length, this.buffers[i].length);
        have.copy(this.buffers[i], 0, 0, n);
        this.received[i] = n;
        this.advanceHash(i);
        if (n < want) this.problems.push(`${files[i].name}: ${path} has only ${have.length} of the ${want} bytes before the resume point`);
      }
    }
  }

  onChunk(chunk) {
    const files = this.header.files || [];
    const index = chunk.file_index;
    if (!(index >= 0 && index < files.length)) {
      throw new CheckError(`protocol error: chunk for file_index ${index}, but the header lists ${files.length} files`);
    }
    const offset = Number(chunk.offset);
    const data = chunk.data || Buffer.alloc(0);
    const buffer = this.buffers[index];
    if (!Number.isSafeInteger(offset) || offset < 0 || offset + data.length > buffer.length) {
      throw new CheckError(`protocol error: chunk [${chunk.offset}, +${data.length}) of ${files[index].name} ` +
        `is outside its ${buffer.length} bytes`);
    }
    if (offset < this.hashed[index]) this.stale.add(index); // overwrites hashed bytes
    data.copy(buffer, offset);
    if (offset <= this.received[index]) {
      this.received[index] = Math.max(this.received[index], offset + data.length);
      this.advanceHash(index);
    }
    this.maybeWrite(index);
  }

  // Writes header.json and every file into OUTDIR; returns the per-file check results.
  finish({ complete }) {
    // complete: the stream ended normally, so a missing byte is a failed check.
    if (this.header === null) throw new CheckError('protocol error: the stream ended without an AssetHeader');
    const announced = (this.header.files || []).length;
    if (complete && announced < this.fileCount()) {
      this.problems.push(`the stream ended after ${announced} of ${this.fileCount()} files`);
    }
    mkdirSync(this.outDir, { recursive: true });
    writeFileSync(join(this.outDir, 'header.json'), JSON.stringify(this.header, null, 2) + '\n');
    const results = [];
    (this.header.files || []).forEach((f, i) => {
      const buffer = this.buffers[i];
      const path = join(this.outDir, f.name);
      // Write what is known from byte 0: the whole file when it all arrived (even when its
      // sha256 is wrong, to inspect it), else its contiguous prefix, so that
      // `fetch --file-index --offset` can resume it. Never write a zero-filled hole.
      if (this.received[i] > 0 || buffer.length === 0) {
        writeFileSync(path, buffer.subarray(0, this.received[i]));
      }
      // The running hash covers the file when its bytes arrived in order; otherwise (a gap,
      // or a chunk written over bytes already hashed) hash the whole buffer now.
      const sha256 = this.hashed[i] === buffer.length && !this.stale.has(i)
        ? this.hashes[i].digest('hex')
        : createHash('sha256').update(buffer).digest('hex');
      const sizeOk = this.received[i] === buffer.length;
      const shaOk = sha256 === String(f.sha256).toLowerCase();
      if (complete && !sizeOk) this.problems.push(`${f.name}: received ${this.received[i]} of ${buffer.length} bytes`);
      if (complete && sizeOk && !shaOk) this.problems.push(`${f.name}: sha256 ${sha256} != header ${f.sha256}`);
      results.push({
        name: f.name,
        size_bytes: buffer.length,
        sha256: f.sha256,
        ok: sizeOk && shaOk,
        ...(shaOk ? {} : { actual_sha256: sizeOk ? sha256 : null }),
        ...(sizeOk ? {} : { received_bytes: this.received[i] }),
      });
    });
    return results;
  }

  // Where a broken download can resume: the first file not fully received, and its prefix.
  resumePoint() {
    const i = this.received.findIndex((n, k) => n < this.buffers[k].length);
    return i < 0 ? null : { fileIndex: i, offset: this.received[i] };
  }
}

function streamAsset(call, assembler) {
  return new Promise((resolvePromise, rejectPromise) => {
    let failed = false;
    call.on('data', (part) => {
      if (failed) return;
      try {
        assembler.onPart(part);
      } catch (err) {
        failed = true;
        call.cancel();
        rejectPromise(err);
      }
    });
    call.on('error', (err) => {
      if (!failed) {
        failed = true;
        rejectPromise(err);
      }
    });
    call.on('end', () => {
      if (!failed) resolvePromise();
    });
  });
}

async function runStreamingCommand({ call, assembler, address, summaryExtra, resumeHint }) {
  const onSigint = () => call.cancel();
  process.once('SIGINT', onSigint);
  try {
    await streamAsset(call, assembler);
  } catch (err) {
    if (err instanceof CheckError) throw err;
    // A gRPC status: keep what arrived, so the download can be resumed with Fetch.
    if (assembler.header !== null) {
      assembler.finish({ complete: false });
      const point = assembler.resumePoint();
      if (point) {
        process.stderr.write(`partial download kept in ${assembler.outDir}; resume with: ` +
          `${resumeHint} fetch ${assembler.header.asset_id} --file-index ${point.fileIndex} ` +
          `--offset ${point.offset} -o ${assembler.outDir}\n`);
      }
    }
    throw new GrpcCallError(err, address, { midStream: assembler.header !== null });
  } finally {
    process.removeListener('SIGINT', onSigint);
  }
  const files = assembler.finish({ complete: true });
  const ok = files.every((f) => f.ok) && assembler.problems.length === 0;
  const summary = {
    ok,
    asset_id: assembler.header.asset_id,
    seed: String(assembler.header.seed),
    ...summaryExtra,
    files,
  };
  process.stdout.write(JSON.stringify(summary) + '\n');
  for (const problem of assembler.problems) process.stderr.write(`check failed: ${problem}\n`);
  return ok ? EXIT_OK : EXIT_REFUSED;
}

// ---------------------------------------------------------------------------------------
// Commands

async function main(argv) {
  const protoPath = protoPathOf(argv);
  const { AssetService, packageDefinition } = loadService(protoPath);
  const optionSpecs = optionSpecsOf(packageDefinition);
  const { values, positionals } = parseCommandLine(argv, optionSpecs);
  if (values.help) {
    process.stdout.write(usage(optionSpecs) + '\n');
    return EXIT_OK;
  }
  const [command, ...rest] = positionals;
  if (!command) throw new UsageError('no command given');
  const address = values.address || DEFAULT_ADDRESS;
  let timeoutS;
  if (values.timeout !== undefined) {
    timeoutS = Number(values.timeout);
    if (!(timeoutS > 0)) throw new UsageError(`--timeout must be a positive number of seconds`);
  }
  const resumeHint = `node ${process.argv[1]} --address ${address}`;
  const credentials = credentialsOf(values);
  const metadata = metadataOf(values);

  if (command === 'models') {
    if (rest.length) throw new UsageError(`models takes no arguments, got ${rest.join(' ')}`);
    rejectOptions(values, [...generateOnly(optionSpecs), ...FETCH_ONLY, ...RENDER_ONLY, 'out'], 'models');
    const client = new AssetService(address, credentials);
    try {
      const response = await new Promise((res, rej) => {
        client.ListModels({}, metadata, callOptions(timeoutS), (err, r) => (err ? rej(err) : res(r)));
      });
      process.stdout.write(JSON.stringify(response, null, 2) + '\n');
      return EXIT_OK;
    } catch (err) {
      throw new GrpcCallError(err, address);
    } finally {
      client.close();
    }
  }

  if (command === 'generate') {
    if (rest.length !== 1) throw new UsageError('generate takes exactly one MODEL');
    rejectOptions(values, [...FETCH_ONLY, ...RENDER_ONLY], 'generate');
    if (!values.category) throw new UsageError('--category is required');
    const outDir = requireOut(values);
    const options = optionsOf(values, optionSpecs);
    const seed = values.seed === undefined ? 0n : parseInteger(values.seed, 'seed', 0n, MAX_SEED);
    const request = { model: rest[0], category: values.category, seed: seed.toString(), options,
      progressive: Boolean(values.progressive) };
    const client = new AssetService(address, credentials);
    try {
      const call = client.Generate(request, metadata, callOptions(timeoutS));
      return await runStreamingCommand({
        call, address, resumeHint,
        assembler: new Assembler({ outDir, eager: Boolean(values.progressive) }),
        summaryExtra: {},
      });
    } finally {
      client.close();
    }
  }

  if (command === 'fetch') {
    if (rest.length !== 1) throw new UsageError('fetch takes exactly one ASSET_ID');
    rejectOptions(values, [...generateOnly(optionSpecs), ...RENDER_ONLY], 'fetch');
    const outDir = requireOut(values);
    const fileIndex = Number(parseUint(values['file-index'], 'file-index', UINT32_MAX) ?? 0n);
    const offset = parseUint(values.offset, 'offset', UINT64_MAX) ?? 0n;
    const client = new AssetService(address, credentials);
    try {
      const call = client.Fetch(
        { asset_id: rest[0], file_index: fileIndex, offset: offset.toString() }, metadata,
        callOptions(timeoutS));
      return await runStreamingCommand({
        call, address, resumeHint,
        assembler: new Assembler({ outDir, resumeFileIndex: fileIndex, resumeOffset: offset }),
        summaryExtra: {},
      });
    } finally {
      client.close();
    }
  }

  if (command === 'render') {
    if (rest.length < 1) throw new UsageError('render takes one or more ASSET_ID[@X,Z[,YAW]]');
    rejectOptions(values, [...generateOnly(optionSpecs), ...FETCH_ONLY], 'render');
    const outDir = requireOut(values);
    const frames = Number(parseUint(values.frames, 'frames', 100000n) ?? 24n);
    const size = Number(parseUint(values.size, 'size', 4096n) ?? 256n);
    const paceMs = Number(parseUint(values['pace-ms'], 'pace-ms', 60000n) ?? 0n);
    const format = (values['image-format'] ?? 'jpeg').toLowerCase();
    if (format !== 'jpeg' && format !== 'png') throw new UsageError('--image-format must be jpeg or png');
    if (frames < 1) throw new UsageError('--frames must be >= 1');
    const objects = rest.map(sceneObjectOf);
    const RenderService = loadRenderService(protoPath);
    const client = new RenderService(address, credentials);
    try {
      return await runRender({ client, metadata, timeoutS, address, outDir, objects, frames,
        size, format, paceMs });
    } finally {
      client.close();
    }
  }

  throw new UsageError(`unknown command ${JSON.stringify(command)} (models, generate, fetch, render)`);
}

// ---------------------------------------------------------------------------------------
// RenderService

function loadRenderService(assetsProto) {
  const includeDir = resolve(dirname(assetsProto), '..', '..');
  const target = resolve(dirname(assetsProto), 'render.proto');
  if (!existsSync(target)) throw new UsageError(`proto file not found: ${target}`);
  const options = { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true,
    includeDirs: [includeDir] };
  const def = protoLoader.loadSync(relative(includeDir, target).split(sep).join('/'), options);
  return grpc.loadPackageDefinition(def).vitrine.v1.RenderService;
}

function sceneObjectOf(text) {
  const [assetId, where] = text.split('@');
  if (where === undefined) return { asset_id: assetId, placement: { x: 0, z: 0, yaw_deg: 0 } };
  const nums = where.split(',').map(Number);
  if (!(nums.length === 2 || nums.length === 3) || !nums.every(Number.isFinite)) {
    throw new UsageError(`${JSON.stringify(text)}: write ASSET_ID@X,Z[,YAW] (metres, degrees)`);
  }
  return { asset_id: assetId, placement: { x: nums[0], z: nums[1], yaw_deg: nums[2] ?? 0 } };
}

function orbitPose(i, frames) {
  const a = (2 * Math.PI * i) / frames;
  return {
    eye: { x: 2.2 * Math.sin(a), y: 1.1, z: 2.2 * Math.cos(a) },
    target: { x: 0, y: 0.4, z: 0 },
    up: { x: 0, y: 1, z: 0 },
    fov_y_deg: 45,
    pose_index: String(i),
    client_time_us: String(Date.now() * 1000),
  };
}

async function runRender({ client, metadata, timeoutS, address, outDir, objects, frames, size,
  format, paceMs }) {
  mkdirSync(outDir, { recursive: true });
  const call = client.Render(metadata, callOptions(timeoutS));
  const onSigint = () => call.cancel();
  process.once('SIGINT', onSigint);
  const got = [];
  let lastDropped = 0;
  const ext = format === 'png' ? 'png' : 'jpg';
  const done = new Promise((res, rej) => {
    call.on('data', (frame) => {
      const name = `frame_${String(frame.pose_index).padStart(4, '0')}.${ext}`;
      writeFileSync(join(outDir, name), frame.image);
      got.push({ pose_index: Number(frame.pose_index), total_ms: frame.timings.total_ms,
        bytes: frame.image.length, mime_type: frame.mime_type });
      lastDropped = Number(frame.dropped_poses);
    });
    call.on('error', rej);
    call.on('end', res);
  });
  call.write({ session: { objects, width: size, height: size,
    format: format === 'png' ? 'IMAGE_FORMAT_PNG' : 'IMAGE_FORMAT_JPEG', quality: 85 } });
  for (let i = 0; i < frames; i += 1) {
    call.write({ pose: orbitPose(i, frames) });
    if (paceMs) await new Promise((r) => setTimeout(r, paceMs));
  }
  call.end();
  try {
    await done;
  } catch (err) {
    throw new GrpcCallError(err, address, { midStream: got.length > 0 });
  } finally {
    process.removeListener('SIGINT', onSigint);
  }
  const totals = got.map((f) => f.total_ms).sort((a, b) => a - b);
  const summary = {
    ok: got.length > 0,
    frames: got.length,
    poses_sent: frames,
    dropped_poses: lastDropped,
    pose_indices: got.map((f) => f.pose_index),
    median_total_ms: totals.length ? totals[Math.floor(totals.length / 2)] : null,
    mime_type: got.length ? got[0].mime_type : null,
  };
  process.stdout.write(JSON.stringify(summary) + '\n');
  return summary.ok ? EXIT_OK : EXIT_REFUSED;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    if (err instanceof UsageError) {
      process.stderr.write(`error: ${err.message}\n(run with --help for usage)\n`);
      process.exitCode = EXIT_USAGE;
    } else if (err instanceof GrpcCallError) {
      process.stderr.write(`error: ${err.message}\n`);
      process.exitCode = err.code === grpc.status.UNAVAILABLE ? EXIT_UNREACHABLE : EXIT_REFUSED;
    } else if (err instanceof CheckError) {
      process.stderr.write(`error: ${err.message}\n`);
      process.exitCode = EXIT_REFUSED;
    } else {
      process.stderr.write(`error: internal: ${err && err.stack ? err.stack : err}\n`);
      process.exitCode = EXIT_INTERNAL;
    }
  },
);
