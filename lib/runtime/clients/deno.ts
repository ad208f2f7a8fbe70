/**
 * lrp's bundled Deno runtime client, run with `deno run --allow-all` for
 * `runtime: deno` (a separate program: lrp embeds this file's text through
 * `generated.ts` and writes it to a temporary folder). It loads `_HANDLER`
 * (`FILE.EXPORT`, FILE `.ts`, `.js`, `.mjs`, `.tsx` or `.jsx` — TypeScript
 * and `npm:` imports work as in any Deno program) and calls async or callback
 * handlers with Lambda's Node.js-style `context`.
 * `awslambda.streamifyResponse` / `HttpResponseStream.from` give a stream
 * with `write`, `end` and `setContentType`.
 *
 * @module
 */
// deno-lint-ignore-file no-explicit-any
const env = Deno.env.toObject();
const BASE = "http://" + env.AWS_LAMBDA_RUNTIME_API + "/2018-06-01/runtime";
// lrp's private channel (lib/runtime/channel.ts): the socket's path, taken out of the handler's environment.
const CHANNEL = env.LRP_RUNTIME_CHANNEL;
delete env.LRP_RUNTIME_CHANNEL;
Deno.env.delete("LRP_RUNTIME_CHANNEL");
const CHANNEL_MAX = 1024 * 1024;
const STREAM = Symbol.for("aws.lambda.runtime.handler.streaming");
const PRELUDE_TYPE = "application/vnd.awslambda.http-integration-response";
const encoder = new TextEncoder();

function errorOf(err: any) {
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

function named(name: string, message: string) {
  const e = new Error(message);
  e.name = name;
  return e;
}

async function postError(path: string, err: any) {
  const body = errorOf(err);
  console.error(new Date().toISOString() + "\tERROR\t" + JSON.stringify(body));
  const res = await fetch(BASE + path, {
    method: "POST",
    body: JSON.stringify(body),
    headers: { "content-type": "application/json", "lambda-runtime-function-error-type": body.errorType },
  });
  await res.body?.cancel();
}

// A module that does not parse, as "FILE:LINE:COLUMN: SyntaxError: MESSAGE" (Deno names the place in the stack).
function syntaxError(err: unknown): Error | undefined {
  if (!(err instanceof Error)) return undefined;
  if (!(err instanceof SyntaxError) && !err.message.startsWith("SyntaxError: ")) return undefined;
  const what = "SyntaxError: " + err.message.split("\n")[0]!.replace(/^SyntaxError: /, "");
  const m = /at (file:\/\/\S+):(\d+):(\d+)/.exec(err.stack ?? err.message);
  const at = m ? decodeURIComponent(new URL(m[1]!).pathname) + ":" + m[2] + ":" + m[3] + ": " : "";
  return named("Runtime.UserCodeSyntaxError", at + what);
}

async function loadHandler() {
  const spec = env._HANDLER || "";
  const root = env.LAMBDA_TASK_ROOT || Deno.cwd();
  const dot = spec.lastIndexOf(".");
  if (dot <= 0) throw named("Runtime.MalformedHandlerName", "Bad handler " + spec);
  const file = spec.slice(0, dot);
  const name = spec.slice(dot + 1);
  const found = [".ts", ".js", ".mjs", ".tsx", ".jsx"].map((ext) => root + "/" + file + ext).find((f) => {
    try {
      return Deno.statSync(f).isFile;
    } catch {
      return false;
    }
  });
  if (!found) throw named("Runtime.ImportModuleError", "Error: Cannot find module '" + file + "'");
  let mod: any;
  try {
    mod = await import("file://" + found);
  } catch (err) {
    throw syntaxError(err) ?? err;
  }
  let fn = mod[name];
  if (fn === undefined && mod.default && typeof mod.default === "object") fn = mod.default[name];
  if (typeof fn !== "function") {
    throw named("Runtime.HandlerNotFound", spec + " is undefined or not exported");
  }
  return fn;
}

function context(h: Headers, id: string, callback: (err: any, value?: any) => void) {
  const deadline = Number(h.get("lambda-runtime-deadline-ms"));
  const parse = (v: string | null) => (v ? JSON.parse(v) : undefined);
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: env.AWS_LAMBDA_FUNCTION_VERSION,
    invokedFunctionArn: h.get("lambda-runtime-invoked-function-arn"),
    memoryLimitInMB: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    awsRequestId: id,
    logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: env.AWS_LAMBDA_LOG_STREAM_NAME,
    identity: parse(h.get("lambda-runtime-cognito-identity")),
    clientContext: parse(h.get("lambda-runtime-client-context")),
    getRemainingTimeInMillis: () => deadline - Date.now(),
    done: (err: any, value: any) => callback(err, value),
    succeed: (value: any) => callback(null, value),
    fail: (err: any) => callback(err == null ? "handled" : err),
  };
}

// The answer waiting for the event loop to empty, as AWS's Node.js runtime waits: run on `beforeunload`,
// which Deno dispatches when nothing is left to do (cancelling it keeps the program running).
let onEmptyLoop: (() => void) | undefined;
globalThis.addEventListener("beforeunload", (e) => {
  const settle = onEmptyLoop;
  onEmptyLoop = undefined;
  if (settle) {
    e.preventDefault();
    settle();
  }
});

function runBuffered(handler: any, event: unknown, h: Headers, id: string) {
  return new Promise((resolve, reject) => {
    const answer = (err: any, value?: any) => {
      onEmptyLoop = undefined;
      if (err != null) reject(err);
      else resolve(value);
    };
    // The first of the callback, done, succeed, fail and the returned promise answers, as in AWS's runtime.
    let called = false;
    const first = <A extends any[]>(fn: (...args: A) => void) => (...args: A) => {
      if (called) return;
      called = true;
      fn(...args);
    };
    // Nothing answers (a promise that never settles, a callback never called): null once the loop is empty.
    onEmptyLoop = () => answer(null, null);
    const ctx = context(h, id, () => {});
    ctx.done = first((err: any, value: any) => answer(err, value));
    ctx.succeed = first((value: any) => answer(null, value));
    ctx.fail = first((err: any) => answer(err == null ? "handled" : err));
    const callback = first((err: any, value?: any) => {
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

// An exception or rejection nobody handles ends the process, as in AWS's Node.js runtime (exit 129 or 128),
// after being reported as the error of the invocation in flight (or of the initialisation).
let inFlight: string | undefined;
let initialised = false;
async function fatal(err: any, code: number) {
  const path = inFlight ? "/invocation/" + inFlight + "/error" : initialised ? undefined : "/init/error";
  if (path) await postError(path, err).catch(() => {});
  else console.error(new Date().toISOString() + "\tERROR\t" + JSON.stringify(errorOf(err)));
  Deno.exit(code);
}
globalThis.addEventListener("error", (e) => {
  e.preventDefault();
  fatal(e.error, 129);
});
globalThis.addEventListener("unhandledrejection", (e) => {
  e.preventDefault();
  fatal(named("Runtime.UnhandledPromiseRejection", String(e.reason)), 128);
});

function responseStream(id: string) {
  let contentType = "application/octet-stream";
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let posted: Promise<void> | undefined;
  let before: ((write: (c: any) => void) => void) | undefined;
  let ended = false;
  const bytes = (c: any) => typeof c === "string" ? encoder.encode(c) : new Uint8Array(c);
  const start = () => {
    if (posted) return;
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        controller = c;
      },
    });
    posted = fetch(BASE + "/invocation/" + id + "/response", {
      method: "POST",
      body,
      headers: { "content-type": contentType, "lambda-runtime-function-response-mode": "streaming" },
    }).then((r) => r.body?.cancel(), () => {});
    if (before) {
      const b = before;
      before = undefined;
      b((c) => controller.enqueue(bytes(c)));
    }
  };
  return {
    setContentType(t: string) {
      contentType = t;
    },
    set _onBeforeFirstWrite(fn: any) {
      before = fn;
    },
    write(c: any, ...rest: any[]) {
      start();
      controller.enqueue(bytes(c));
      const cb = rest.find((x) => typeof x === "function");
      if (cb) cb();
      return true;
    },
    end(c?: any) {
      if (ended) return;
      start();
      if (c !== undefined && typeof c !== "function") controller.enqueue(bytes(c));
      ended = true;
      controller.close();
    },
    get writableEnded() {
      return ended;
    },
    started: () => posted !== undefined,
    abort(err: any) {
      start();
      ended = true;
      controller.error(err);
    },
    done: () => posted ?? Promise.resolve(),
  };
}

(globalThis as any).awslambda = {
  streamifyResponse(handler: any) {
    handler[STREAM] = true;
    return handler;
  },
  HttpResponseStream: {
    from(stream: any, prelude: unknown) {
      stream.setContentType(PRELUDE_TYPE);
      const text = JSON.stringify(prelude);
      stream._onBeforeFirstWrite = (write: (c: any) => void) => {
        write(text);
        write(new Uint8Array(8));
      };
      return stream;
    },
  },
};

// The channel: frames of a u32 length (big-endian, of what follows) and a kind byte. It carries `next` and
// the buffered answers up to CHANNEL_MAX (the answer and the next `next` in one write); errors, streams and
// larger answers go over the Runtime API. No read is pending while a handler runs, so the event loop can
// still empty (an answer that waits for it comes on `beforeunload`).
function frame(kind: number, body?: Uint8Array): Uint8Array {
  const out = new Uint8Array(5 + (body?.length ?? 0));
  new DataView(out.buffer).setUint32(0, 1 + (body?.length ?? 0));
  out[4] = kind;
  if (body) out.set(body, 5);
  return out;
}

class Channel {
  #conn: Deno.UnixConn;
  #buf = new Uint8Array(65536);
  #len = 0;

  constructor(conn: Deno.UnixConn) {
    this.#conn = conn;
  }

  static async open(path: string, key: string): Promise<Channel | undefined> {
    try {
      const c = new Channel(await Deno.connect({ transport: "unix", path }));
      // HELLO, then PIPES: Deno's console writes to the pipes, so lrp waits for them after every answer.
      await c.#write(concat(frame(1, encoder.encode(key)), frame(5)));
      return c;
    } catch {
      return undefined;
    }
  }

  async #write(bytes: Uint8Array) {
    for (let at = 0; at < bytes.length;) at += await this.#conn.write(bytes.subarray(at));
  }

  /** Sends NEXT (after `before`, in one write) and returns the event: its Runtime API headers and bytes. */
  async next(before: Uint8Array | undefined): Promise<{ headers: Headers; body: Uint8Array }> {
    const next = frame(2);
    await this.#write(before ? concat(before, next) : next);
    for (;;) {
      if (this.#len >= 4) {
        const size = new DataView(this.#buf.buffer).getUint32(0);
        if (this.#len >= 4 + size) {
          const body = this.#buf.slice(5, 4 + size);
          this.#buf.copyWithin(0, 4 + size, this.#len);
          this.#len -= 4 + size;
          const headLength = new DataView(body.buffer).getUint16(0);
          const [id, deadline, arn, trace] = new TextDecoder().decode(body.subarray(2, 2 + headLength)).split(
            "\n",
          );
          const headers = new Headers({
            "lambda-runtime-aws-request-id": id!,
            "lambda-runtime-deadline-ms": deadline!,
            "lambda-runtime-invoked-function-arn": arn!,
          });
          if (trace) headers.set("lambda-runtime-trace-id", trace);
          return { headers, body: body.subarray(2 + headLength) };
        }
        if (4 + size > this.#buf.length) {
          const grown = new Uint8Array(4 + size);
          grown.set(this.#buf.subarray(0, this.#len));
          this.#buf = grown;
        }
      }
      const n = await this.#conn.read(this.#buf.subarray(this.#len));
      if (n === null) throw new Error("lrp closed the channel");
      this.#len += n;
    }
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** A RESPONSE frame for invocation `id`, or undefined when the answer must go over the Runtime API. */
function answerFrame(id: string, body: string): Uint8Array | undefined {
  const idBytes = encoder.encode(id);
  const bytes = encoder.encode(body);
  if (bytes.length > CHANNEL_MAX || idBytes.length >= 256) return undefined;
  const out = new Uint8Array(1 + idBytes.length + bytes.length);
  out[0] = idBytes.length;
  out.set(idBytes, 1);
  out.set(bytes, 1 + idBytes.length);
  return frame(3, out);
}

let handler: any;
try {
  handler = await loadHandler();
} catch (err) {
  await postError("/init/error", err).catch(() => {});
  Deno.exit(1);
}
initialised = true;

const slash = env.AWS_LAMBDA_RUNTIME_API!.indexOf("/");
const chan = CHANNEL && slash !== -1
  ? await Channel.open(CHANNEL, env.AWS_LAMBDA_RUNTIME_API!.slice(slash + 1))
  : undefined;

/** The next event: over the channel (sending `answer` first), else `invocation/next`. */
async function nextEvent(
  answer: Uint8Array | undefined,
): Promise<{ headers: Headers; text: () => Promise<string> }> {
  if (chan) {
    const { headers, body } = await chan.next(answer);
    return { headers, text: () => Promise.resolve(new TextDecoder().decode(body)) };
  }
  const next = await fetch(BASE + "/invocation/next");
  if (next.status !== 200) {
    console.error("lrp runtime client: invocation/next answered " + next.status + "; exiting");
    Deno.exit(1);
  }
  return next;
}

// The loop runs outside a top-level await: Deno ends a program whose top-level await never settles
// before \`beforeunload\` can answer a handler that never settles.
async function serve() {
  let answer: Uint8Array | undefined;
  for (;;) {
    inFlight = undefined;
    let next: { headers: Headers; text: () => Promise<string> };
    try {
      next = await nextEvent(answer);
    } catch (err) {
      console.error("lrp runtime client: the Runtime API is gone (" + (err as Error).message + "); exiting");
      Deno.exit(1);
    }
    answer = undefined;
    const h = next.headers;
    const id = h.get("lambda-runtime-aws-request-id")!;
    inFlight = id;
    const trace = h.get("lambda-runtime-trace-id");
    if (trace) Deno.env.set("_X_AMZN_TRACE_ID", trace);
    else Deno.env.delete("_X_AMZN_TRACE_ID");
    let event: unknown;
    try {
      event = JSON.parse(await next.text());
    } catch (err) {
      await postError(
        "/invocation/" + id + "/error",
        named("Runtime.UnmarshalError", (err as Error).message),
      );
      continue;
    }
    if (handler[STREAM]) {
      const stream = responseStream(id);
      try {
        await handler(event, stream, context(h, id, () => {}));
        stream.end();
      } catch (err) {
        if (!stream.started()) {
          await postError("/invocation/" + id + "/error", err);
          continue;
        }
        console.error(new Date().toISOString() + "\t" + id + "\tERROR\t" + JSON.stringify(errorOf(err)));
        stream.abort(err);
      }
      await stream.done();
      continue;
    }
    let body: string;
    try {
      const result = await runBuffered(handler, event, h, id);
      body = JSON.stringify(result === undefined ? null : result);
    } catch (err) {
      await postError("/invocation/" + id + "/error", err);
      continue;
    }
    // Over the channel the answer leaves with the next `next`, in one write.
    answer = chan && answerFrame(id, body);
    if (answer) continue;
    const res = await fetch(BASE + "/invocation/" + id + "/response", {
      method: "POST",
      body,
      headers: { "content-type": "application/json" },
    });
    await res.body?.cancel();
  }
}
serve();
