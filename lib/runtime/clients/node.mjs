/**
 * lrp's bundled Node.js runtime client, run with `node` for `runtime: nodejs`
 * (a separate program: lrp embeds this file's text through
 * `generated.ts` and writes it to a temporary folder). It speaks the Runtime
 * API like AWS's own client: it loads `_HANDLER` (`FILE.EXPORT`, FILE `.js`,
 * `.mjs` or `.cjs`, ESM or CommonJS), calls async handlers and callback
 * handlers with Lambda's `context`, and supports response streaming through
 * the global `awslambda.streamifyResponse` and
 * `awslambda.HttpResponseStream.from`.
 *
 * @module
 */
import http from "node:http";
import net from "node:net";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import childProcess, { spawnSync } from "node:child_process";
import { syncBuiltinESMExports } from "node:module";
import { Writable } from "node:stream";

const env = process.env;
// AWS_LAMBDA_RUNTIME_API is host:port, or host:port/KEY where lrp serves the API under a private path.
const api = env.AWS_LAMBDA_RUNTIME_API;
const slash = api.indexOf("/");
const hostPort = slash === -1 ? api : api.slice(0, slash);
const host = hostPort.slice(0, hostPort.lastIndexOf(":"));
const port = hostPort.slice(hostPort.lastIndexOf(":") + 1);
const agent = new http.Agent({ keepAlive: true });
const BASE = (slash === -1 ? "" : api.slice(slash)) + "/2018-06-01/runtime";
// lrp's private channel (lib/runtime/channel.ts): the socket's path, taken out of the handler's environment.
const CHANNEL = env.LRP_RUNTIME_CHANNEL;
delete env.LRP_RUNTIME_CHANNEL;
const CHANNEL_MAX = 1024 * 1024;
const STREAM = Symbol.for("aws.lambda.runtime.handler.streaming");
const PRELUDE_TYPE = "application/vnd.awslambda.http-integration-response";

// The Runtime API calls of the buffered path go over one persistent connection, written and parsed here:
// `node:http`'s request objects, agent bookkeeping and event emitters cost more than the rest of an
// invocation. Calls are pipelined (answers come in order) so that an answer and the next `next` leave in
// one write; a connection the server closed is opened again for the next call. With no call waiting the
// socket is unref'd, as an agent's free sockets are, so that the event loop can empty (the answer of a
// handler that waits for it comes on `beforeExit`).
let conn;

function connection() {
  if (conn && !conn.closed) return conn;
  const socket = net.connect({ host, port: Number(port) });
  socket.setNoDelay(true);
  // `parts` holds what has arrived, joined only once `need` bytes are there (a large event is not
  // copied once per chunk); `waiting` the calls sent, oldest first.
  const c = { socket, closed: false, parts: [], size: 0, need: 0, waiting: [] };
  socket.on("data", (chunk) => {
    c.parts.push(chunk);
    c.size += chunk.length;
    if (c.size >= c.need) received(c);
  });
  const gone = (err) => {
    c.closed = true;
    const error = err || new Error("the Runtime API closed the connection");
    for (const w of c.waiting.splice(0)) w.reject(error);
  };
  socket.on("error", gone);
  socket.on("close", () => gone());
  conn = c;
  return c;
}

function received(c) {
  while (c.waiting.length > 0 && c.size > 0) {
    const buf = c.parts.length === 1 ? c.parts[0] : Buffer.concat(c.parts);
    const res = parseResponse(buf);
    if (typeof res === "number") {
      c.parts = [buf];
      c.need = res;
      return;
    }
    c.parts = res.rest.length === 0 ? [] : [res.rest];
    c.size = res.rest.length;
    c.need = 0;
    const w = c.waiting.shift();
    if (c.waiting.length === 0) c.socket.unref();
    if (res.close) c.socket.destroy();
    w.resolve(res);
  }
}

function request(method, p, headers, body) {
  let head = method + " " + BASE + p + " HTTP/1.1\r\nhost: " + hostPort + "\r\n";
  if (headers) { for (const k in headers) head += k + ": " + headers[k] + "\r\n"; }
  const payload = body === undefined ? undefined : typeof body === "string" ? Buffer.from(body) : body;
  if (payload !== undefined) head += "content-length: " + payload.length + "\r\n";
  return { head: head + "\r\n", payload };
}

// Sends the requests in one write (large bodies apart) and returns a promise of each answer.
function send(...requests) {
  const c = connection();
  c.socket.ref();
  const parts = [];
  const answers = requests.map((r) => {
    parts.push(Buffer.from(r.head, "latin1"));
    if (r.payload !== undefined && r.payload.length > 0) parts.push(r.payload);
    return new Promise((resolve, reject) => c.waiting.push({ resolve, reject }));
  });
  const size = parts.reduce((n, b) => n + b.length, 0);
  if (size < 65536) c.socket.write(parts.length === 1 ? parts[0] : Buffer.concat(parts, size));
  else for (const b of parts) c.socket.write(b);
  return answers;
}

function noop() {}

function call(method, p, headers, body) {
  return send(request(method, p, headers, body))[0];
}

// One whole response at the start of `buf` ({ status, headers (lower-case names), body, rest, close }), or
// while it is incomplete, the number of bytes to wait for. Bodies by Content-Length or chunked.
function parseResponse(buf) {
  const end = buf.indexOf("\r\n\r\n");
  if (end === -1) return buf.length + 1;
  const lines = buf.toString("latin1", 0, end).split("\r\n");
  const status = Number(lines[0].slice(9, 12));
  const headers = {};
  for (let i = 1; i < lines.length; i++) {
    const colon = lines[i].indexOf(":");
    headers[lines[i].slice(0, colon).trim().toLowerCase()] = lines[i].slice(colon + 1).trim();
  }
  const start = end + 4;
  const close = (headers["connection"] || "").toLowerCase() === "close";
  if ((headers["transfer-encoding"] || "").toLowerCase().includes("chunked")) {
    const parts = [];
    let at = start;
    for (;;) {
      const eol = buf.indexOf("\r\n", at);
      if (eol === -1) return buf.length + 1;
      const size = parseInt(buf.toString("latin1", at, eol), 16);
      if (size === 0) {
        const last = buf.indexOf("\r\n\r\n", eol);
        if (last === -1) return buf.length + 1;
        return { status, headers, body: Buffer.concat(parts), rest: buf.subarray(last + 4), close };
      }
      if (buf.length < eol + 2 + size + 2) return eol + 2 + size + 2;
      parts.push(buf.subarray(eol + 2, eol + 2 + size));
      at = eol + 2 + size + 2;
    }
  }
  const length = Number(headers["content-length"] || 0);
  if (buf.length < start + length) return start + length;
  return {
    status,
    headers,
    body: buf.subarray(start, start + length),
    rest: buf.subarray(start + length),
    close,
  };
}

// The channel: frames of a u32 length (big-endian, of what follows) and a kind byte. It carries `next` and
// the buffered answers up to CHANNEL_MAX; errors, streams and larger answers go over the Runtime API.
let chan;

function frame(kind, body) {
  const head = Buffer.allocUnsafe(5);
  head.writeUInt32BE(1 + (body ? body.length : 0), 0);
  head[4] = kind;
  return body ? [head, body] : [head];
}

// Opens the channel and says HELLO; undefined when it cannot be used (the client keeps to the Runtime API).
// Every write goes straight to the socket's descriptor, synchronously, as writes to a pipe do: frames never
// interleave, output already sent survives a process.exit(), and a client that writes faster than lrp reads
// waits (1 ms sleeps) instead of piling its output up in memory.
function openChannel() {
  return new Promise((resolve) => {
    const socket = net.connect({ path: CHANNEL });
    socket.once("error", () => resolve(undefined));
    socket.once("connect", () => {
      const fd = socket._handle?.fd;
      if (typeof fd !== "number" || fd < 0) {
        socket.destroy();
        return resolve(undefined);
      }
      const c = { socket, fd, closed: false, buf: Buffer.alloc(0), waiting: undefined };
      socket.on("data", (chunk) => {
        c.buf = c.buf.length === 0 ? chunk : Buffer.concat([c.buf, chunk]);
        while (c.buf.length >= 4 && c.buf.length >= 4 + c.buf.readUInt32BE(0)) {
          const size = c.buf.readUInt32BE(0);
          const body = c.buf.subarray(5, 4 + size);
          c.buf = c.buf.subarray(4 + size);
          const w = c.waiting;
          c.waiting = undefined;
          socket.unref();
          w?.resolve(eventOf(body));
        }
      });
      const gone = (err) => {
        c.closed = true;
        c.waiting?.reject(err || new Error("lrp closed the channel"));
        c.waiting = undefined;
      };
      socket.on("error", gone);
      socket.on("close", () => gone());
      socket.unref();
      resolve(
        chanWrite(c, Buffer.concat(frame(1, Buffer.from(api.slice(slash + 1), "latin1")))) ? c : undefined,
      );
    });
  });
}

const pause = new Int32Array(new SharedArrayBuffer(4));
// fs.writeSync as it was: the handler's writes to 1 and 2 are diverted through the wrapper below.
const rawWriteSync = fs.writeSync;

// Writes all of `bytes` to the channel; false (and the channel closed) when lrp is gone.
function chanWrite(c, bytes) {
  if (c.socket.destroyed) c.closed = true;
  for (let at = 0; at < bytes.length && !c.closed;) {
    try {
      at += rawWriteSync(c.fd, bytes, at);
    } catch (err) {
      if (err.code === "EAGAIN") Atomics.wait(pause, 0, 0, 1);
      else if (err.code !== "EINTR") c.closed = true;
    }
  }
  return !c.closed;
}

// An EVENT frame's body after its kind (u16 head length, head "id\ndeadline\narn\ntrace", payload) as `next`'s answer.
function eventOf(body) {
  const headLength = body.readUInt16BE(0);
  const [id, deadline, arn, trace] = body.toString("utf8", 2, 2 + headLength).split("\n");
  const headers = {
    "lambda-runtime-aws-request-id": id,
    "lambda-runtime-deadline-ms": deadline,
    "lambda-runtime-invoked-function-arn": arn,
  };
  if (trace) headers["lambda-runtime-trace-id"] = trace;
  return { status: 200, headers, body: body.subarray(2 + headLength) };
}

// Sends NEXT (after `before`, in one write) and returns the promise of the event.
function channelNext(before) {
  if (chan.closed) return Promise.reject(new Error("lrp closed the channel"));
  chan.socket.ref();
  const p = new Promise((resolve, reject) => chan.waiting = { resolve, reject });
  if (!chanWrite(chan, before ? Buffer.concat([...before, ...frame(2)]) : frame(2)[0])) {
    chan.waiting = undefined;
    return Promise.reject(new Error("lrp closed the channel"));
  }
  return p;
}

// The handler's output goes over the channel too, in order with the answers, as AWS's client writes console's
// to its telemetry descriptor: lrp files each line under its invocation without waiting for the pipes. That
// is what process.stdout and process.stderr write (so console and the loggers built on them), and fs writes
// to descriptors 1 and 2 (pino's). Output lrp cannot see coming this way (a child process's, a native
// module's) takes the pipes: the first child process started tells lrp (a PIPES frame) to wait for the pipes
// to settle from then on. Once the channel has closed, everything takes the pipes.
const OUTPUT_MAX = CHANNEL_MAX - 16;
let pipesTold = false;

/** Sends `bytes` as OUTPUT frames of stream `code` (1 stdout, 2 stderr); how many went (all but what failed). */
function sendOutput(code, bytes) {
  if (!chan || chan.closed) return 0;
  for (let at = 0; at < bytes.length; at += OUTPUT_MAX) {
    const part = bytes.subarray(at, at + OUTPUT_MAX);
    const f = Buffer.allocUnsafe(6 + part.length);
    f.writeUInt32BE(2 + part.length, 0);
    f[4] = 4;
    f[5] = code;
    f.set(part, 6);
    if (!chanWrite(chan, f)) return at;
  }
  return bytes.length;
}

/** The bytes an fs write of `data` to a pipe would write (`fs.write(Sync)`'s argument forms). */
function writeBytes(data, a, b) {
  if (typeof data === "string") return Buffer.from(data, typeof b === "string" ? b : "utf8");
  if (!ArrayBuffer.isView(data)) return undefined;
  const options = typeof a === "object" && a !== null ? a : undefined;
  const offset = typeof a === "number" ? a : options?.offset ?? 0;
  const length = typeof b === "number" ? b : options?.length ?? data.byteLength - offset;
  // Anything fs would refuse is left to fs, with its own error.
  if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0) return undefined;
  if (offset + length > data.byteLength) return undefined;
  return Buffer.from(data.buffer, data.byteOffset + offset, length);
}

function divertOutput() {
  for (const [stream, code] of [[process.stdout, 1], [process.stderr, 2]]) {
    const write = stream.write;
    stream.write = function (chunk, encoding, callback) {
      if (typeof encoding === "function") [callback, encoding] = [encoding, undefined];
      const bytes = typeof chunk === "string" ? Buffer.from(chunk, encoding) : chunk;
      if (!(bytes instanceof Uint8Array) || !sendOutput(code, bytes)) {
        return write.call(this, chunk, encoding, callback);
      }
      if (typeof callback === "function") process.nextTick(callback);
      return true;
    };
  }
  const { writeSync, write } = fs;
  fs.writeSync = function (fd, data, a, b, ...rest) {
    const bytes = (fd === 1 || fd === 2) && chan && !chan.closed && writeBytes(data, a, b);
    if (!bytes) return writeSync.call(this, fd, data, a, b, ...rest);
    const sent = sendOutput(fd, bytes);
    return sent < bytes.length ? sent + rawWriteSync(fd, bytes, sent) : bytes.length;
  };
  fs.write = function (fd, data, ...args) {
    const callback = args.at(-1);
    const bytes = (fd === 1 || fd === 2) && chan && !chan.closed && typeof callback === "function" &&
      writeBytes(data, ...args.slice(0, -1));
    if (!bytes || sendOutput(fd, bytes) < bytes.length) return write.call(this, fd, data, ...args);
    process.nextTick(callback, null, bytes.length, data);
  };
  for (const name of ["exec", "execFile", "execFileSync", "execSync", "fork", "spawn", "spawnSync"]) {
    const start = childProcess[name];
    childProcess[name] = function (...args) {
      if (chan && !pipesTold && chanWrite(chan, frame(5)[0])) pipesTold = true;
      return start.apply(this, args);
    };
  }
  // ESM imports of node:fs and node:child_process see the wrappers too.
  syncBuiltinESMExports();
}

function errorOf(err) {
  if (err instanceof Error) {
    return {
      errorType: err.name || "Error",
      errorMessage: err.message,
      trace: String(err.stack || "").split("\n"),
    };
  }
  if (typeof err === "string") return { errorType: "string", errorMessage: err, trace: [] };
  return { errorType: "object", errorMessage: JSON.stringify(err), trace: [] };
}

function named(name, message) {
  const e = new Error(message);
  e.name = name;
  return e;
}

// "FILE:LINE:COLUMN: SyntaxError: MESSAGE". A CommonJS syntax error's stack starts with FILE:LINE, the source
// line and a caret under the column; an ES module's names no place, so `node --check` of the handler file does
// (without running it).
function syntaxErrorAt(err, file) {
  const what = "SyntaxError: " + err.message;
  const at = placeOf(String(err.stack || "")) ||
    placeOf(spawnSync(process.execPath, ["--check", file], { encoding: "utf8" }).stderr || "");
  return at ? at + ": " + what : what;
}

function placeOf(text) {
  const m = /^(.+):(\d+)\n.*\n([ \t]*)\^/.exec(text);
  if (!m) return undefined;
  return (m[1].startsWith("file://") ? fileURLToPath(m[1]) : m[1]) + ":" + m[2] + ":" + (m[3].length + 1);
}

async function loadHandler() {
  const spec = env._HANDLER || "";
  const root = env.LAMBDA_TASK_ROOT || process.cwd();
  const dot = spec.lastIndexOf(".");
  if (dot <= 0) throw named("Runtime.MalformedHandlerName", "Bad handler " + spec);
  const file = spec.slice(0, dot);
  const name = spec.slice(dot + 1);
  const found = [".js", ".mjs", ".cjs"].map((ext) => path.resolve(root, file + ext)).find((f) =>
    fs.existsSync(f)
  );
  if (!found) throw named("Runtime.ImportModuleError", "Error: Cannot find module '" + file + "'");
  let mod;
  try {
    mod = await import(pathToFileURL(found).href);
  } catch (err) {
    if (err instanceof SyntaxError) throw named("Runtime.UserCodeSyntaxError", syntaxErrorAt(err, found));
    throw err;
  }
  let fn = mod[name];
  if (fn === undefined && mod.default && typeof mod.default === "object") fn = mod.default[name];
  if (typeof fn !== "function") {
    throw named("Runtime.HandlerNotFound", spec + " is undefined or not exported");
  }
  return fn;
}

function context(h, id, callback) {
  const deadline = Number(h["lambda-runtime-deadline-ms"]);
  const parse = (v) => (v ? JSON.parse(v) : undefined);
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: env.AWS_LAMBDA_FUNCTION_VERSION,
    invokedFunctionArn: h["lambda-runtime-invoked-function-arn"],
    memoryLimitInMB: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    awsRequestId: id,
    logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: env.AWS_LAMBDA_LOG_STREAM_NAME,
    identity: parse(h["lambda-runtime-cognito-identity"]),
    clientContext: parse(h["lambda-runtime-client-context"]),
    getRemainingTimeInMillis: () => deadline - Date.now(),
    done: (err, value) => callback(err, value),
    succeed: (value) => callback(null, value),
    fail: (err) => callback(err == null ? "handled" : err),
  };
}

async function postError(p, err) {
  const body = JSON.stringify(errorOf(err));
  console.error(new Date().toISOString() + "\t" + (p.split("/")[2] || "") + "\tERROR\t" + body);
  await call("POST", p, {
    "content-type": "application/json",
    "lambda-runtime-function-error-type": errorOf(err).errorType,
  }, body);
}

// The answer waiting for the event loop to empty, as AWS's runtime waits: run on `beforeExit`.
let onEmptyLoop;
process.on("beforeExit", () => {
  const settle = onEmptyLoop;
  onEmptyLoop = undefined;
  settle?.();
});

function runBuffered(handler, event, ctxHeaders, id) {
  return new Promise((resolve, reject) => {
    const answer = (err, value) => {
      onEmptyLoop = undefined;
      if (err != null) reject(err);
      else resolve(value);
    };
    // The first of the callback, done, succeed, fail and the returned promise answers, as in AWS's runtime.
    let called = false;
    const first = (fn) => (...args) => {
      if (called) return;
      called = true;
      fn(...args);
    };
    // Nothing answers (a promise that never settles, a callback never called): null once the loop is empty.
    onEmptyLoop = () => answer(null, null);
    const ctx = context(ctxHeaders, id, () => {});
    ctx.done = first((err, value) => answer(err, value));
    ctx.succeed = first((value) => answer(null, value));
    ctx.fail = first((err) => answer(err == null ? "handled" : err));
    const callback = first((err, value) => {
      if (err != null || !ctx.callbackWaitsForEmptyEventLoop) answer(err, value);
      else onEmptyLoop = () => answer(null, value);
    });
    try {
      const result = handler(event, ctx, callback);
      if (result && typeof result.then === "function") result.then(ctx.succeed, ctx.fail);
    } catch (err) {
      callback(err);
    }
  });
}

// An exception or rejection nobody handles ends the process, as in AWS's runtime (exit 129 or 128), after
// being reported as the error of the invocation in flight (or of the initialisation).
let inFlight;
let initialised = false;
async function fatal(err, code) {
  const p = inFlight ? "/invocation/" + inFlight + "/error" : initialised ? undefined : "/init/error";
  if (p) await postError(p, err).catch(() => {});
  else console.error(new Date().toISOString() + "\tERROR\t" + JSON.stringify(errorOf(err)));
  process.exit(code);
}
process.on("uncaughtException", (err) => fatal(err, 129));
process.on(
  "unhandledRejection",
  (reason) => fatal(named("Runtime.UnhandledPromiseRejection", String(reason)), 128),
);

function responseStream(id) {
  let req;
  let responded;
  let contentType = "application/octet-stream";
  let beforeFirstWrite;
  const start = () => {
    if (req) return;
    req = http.request({
      host,
      port: Number(port),
      method: "POST",
      agent,
      path: BASE + "/invocation/" + id + "/response",
      headers: {
        "content-type": contentType,
        "lambda-runtime-function-response-mode": "streaming",
        "transfer-encoding": "chunked",
        "trailer": "Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body",
      },
    });
    responded = new Promise((resolve) => {
      req.on("response", (res) => {
        res.resume();
        res.on("end", resolve);
        res.on("error", resolve);
      });
      req.on("error", resolve);
      req.on("close", resolve);
    });
    if (beforeFirstWrite) {
      const before = beforeFirstWrite;
      beforeFirstWrite = undefined;
      before((chunk) => req.write(chunk));
    }
  };
  const stream = new Writable({
    write(chunk, encoding, cb) {
      start();
      req.write(chunk, encoding, cb);
    },
    final(cb) {
      start();
      req.end(cb);
    },
  });
  stream.setContentType = (type) => {
    contentType = type;
  };
  Object.defineProperty(stream, "_onBeforeFirstWrite", {
    set(fn) {
      beforeFirstWrite = fn;
    },
    get() {
      return beforeFirstWrite;
    },
  });
  stream.started = () => req !== undefined;
  // A failure after the first byte cuts the request: lrp aborts the client's response.
  stream.abort = (err) => {
    start();
    req.destroy(err instanceof Error ? err : new Error(String(err)));
  };
  stream.responded = () => responded;
  return stream;
}

globalThis.awslambda = {
  streamifyResponse(handler) {
    handler[STREAM] = true;
    return handler;
  },
  HttpResponseStream: {
    from(stream, prelude) {
      stream.setContentType(PRELUDE_TYPE);
      const text = JSON.stringify(prelude);
      stream._onBeforeFirstWrite = (write) => {
        write(text);
        write(new Uint8Array(8));
      };
      return stream;
    },
  },
};

async function runStreaming(handler, event, h, id) {
  const stream = responseStream(id);
  try {
    await handler(event, stream, context(h, id, () => {}));
    if (!stream.writableEnded) stream.end();
    await new Promise((resolve, reject) => {
      if (stream.writableFinished) return resolve();
      stream.on("finish", resolve);
      stream.on("error", reject);
    });
  } catch (err) {
    if (!stream.started()) return await postError("/invocation/" + id + "/error", err);
    console.error(new Date().toISOString() + "\t" + id + "\tERROR\t" + JSON.stringify(errorOf(err)));
    stream.abort(err);
  }
  await stream.responded();
}

// Before the handler's module loads: its code never sees the socket, its output at load time comes in order,
// and what it takes from node:fs and node:child_process is wrapped.
if (CHANNEL && slash !== -1) chan = await openChannel();
if (chan) divertOutput();
let handler;
try {
  handler = await loadHandler();
} catch (err) {
  await postError("/init/error", err).catch(() => {});
  process.exit(1);
}
initialised = true;

let pending;
for (;;) {
  inFlight = undefined;
  let next;
  try {
    next = await (pending ?? (chan ? channelNext() : call("GET", "/invocation/next")));
  } catch (err) {
    console.error("lrp runtime client: the Runtime API is gone (" + err.message + "); exiting");
    process.exit(1);
  }
  pending = undefined;
  if (next.status !== 200) {
    console.error("lrp runtime client: invocation/next answered " + next.status + "; exiting");
    process.exit(1);
  }
  const h = next.headers;
  const id = h["lambda-runtime-aws-request-id"];
  inFlight = id;
  if (h["lambda-runtime-trace-id"]) env._X_AMZN_TRACE_ID = h["lambda-runtime-trace-id"];
  else delete env._X_AMZN_TRACE_ID;
  let event;
  try {
    event = JSON.parse(next.body.toString("utf8"));
  } catch (err) {
    await postError("/invocation/" + id + "/error", named("Runtime.UnmarshalError", err.message));
    continue;
  }
  if (handler[STREAM]) {
    await runStreaming(handler, event, h, id);
    continue;
  }
  let result;
  try {
    result = await runBuffered(handler, event, h, id);
  } catch (err) {
    await postError("/invocation/" + id + "/error", err);
    continue;
  }
  let body;
  try {
    body = JSON.stringify(result === undefined ? null : result);
  } catch (err) {
    await postError(
      "/invocation/" + id + "/error",
      named("Runtime.MarshalError", "Unable to stringify response body: " + err.message),
    );
    continue;
  }
  const bytes = chan && Buffer.from(body);
  const idBytes = chan && Buffer.from(id, "latin1");
  if (chan && bytes.length <= CHANNEL_MAX && idBytes.length < 256) {
    // Over the channel the answer and NEXT leave in one write, and nothing comes back until the next event.
    const answer = Buffer.concat([Buffer.from([idBytes.length]), idBytes, bytes]);
    pending = channelNext(frame(3, answer));
    pending.catch(noop);
    inFlight = undefined;
    continue;
  }
  if (chan) {
    const res = await call(
      "POST",
      "/invocation/" + id + "/response",
      { "content-type": "application/json" },
      body,
    );
    if (res.status === 413) {
      console.error(
        new Date().toISOString() + "\t" + id + "\tERROR\tResponse payload too large: " + res.body.toString(),
      );
    }
    continue;
  }
  // The answer and the next `next` leave together: one write and one wake-up of lrp fewer per invocation.
  const [answered, following] = send(
    request("POST", "/invocation/" + id + "/response", { "content-type": "application/json" }, body),
    request("GET", "/invocation/next"),
  );
  following.catch(noop); // a failure shows where it is awaited, at the top of the loop
  pending = following;
  // Answered: a fatal error from now on has no invocation to report to (an error post would also wait
  // behind the pipelined `next` on this connection).
  inFlight = undefined;
  const res = await answered;
  if (res.status === 413) {
    console.error(
      new Date().toISOString() + "\t" + id + "\tERROR\tResponse payload too large: " + res.body.toString(),
    );
  }
}
