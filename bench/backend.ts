/**
 * A fast fake backend for the benchmark: one process that answers the three
 * kinds of request the bench sends, always with the same small body and at once.
 *
 * - `POST /2015-03-31/functions/function/invocations`: the classic RIE route,
 *   answers a payload-2.0 result.
 * - `POST /2015-03-31/functions/{name}/invocations`: the Lambda Invoke API,
 *   answers the same result plus `X-Amz-Executed-Version: $LATEST`. The
 *   signature is not checked: the bench measures lrp, not SigV4.
 * - Anything else (`GET /`, `POST /` with a body): the "backend directly" and
 *   nginx baselines, answered with the same JSON bytes.
 *
 * Request bodies are always read to the end, so a 1 MB upload costs the
 * backend what it would cost a real function's front door.
 *
 * Run as a program: `deno run -A bench/backend.ts --port 0`; the first line on
 * stdout is the base URL (`http://127.0.0.1:PORT`).
 *
 * @module
 */

/** The payload-2.0 result every invocation returns. */
export const RESULT_BODY = '{"statusCode":200,"headers":{"content-type":"text/plain"},"body":"ok"}';

const RESULT_BYTES = new TextEncoder().encode(RESULT_BODY);
const INVOKE_RE = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/;
const JSON_HEADERS = { "content-type": "application/json" };
const INVOKE_API_HEADERS = { "content-type": "application/json", "x-amz-executed-version": "$LATEST" };

/** Reads and discards a request body without buffering it whole. */
async function drain(body: ReadableStream<Uint8Array> | null): Promise<void> {
  if (body === null) return;
  const reader = body.getReader();
  while (!(await reader.read()).done) { /* discard */ }
}

/** Answers one request as described in the module doc. */
export async function handle(request: Request): Promise<Response> {
  await drain(request.body);
  const path = new URL(request.url).pathname;
  const match = request.method === "POST" ? INVOKE_RE.exec(path) : null;
  if (match !== null && match[1] !== "function") {
    return new Response(RESULT_BYTES, { headers: INVOKE_API_HEADERS });
  }
  return new Response(RESULT_BYTES, { headers: JSON_HEADERS });
}

/** Starts the backend on 127.0.0.1 and returns the server and its base URL. */
export function startBackend(port: number): { server: Deno.HttpServer<Deno.NetAddr>; url: string } {
  const server = Deno.serve({ hostname: "127.0.0.1", port, onListen: () => {} }, handle);
  return { server, url: `http://127.0.0.1:${server.addr.port}` };
}

function parsePort(args: string[]): number {
  const index = args.indexOf("--port");
  const raw = index === -1 ? "0" : args[index + 1];
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`Cannot parse --port: ${raw}`);
  }
  return port;
}

if (import.meta.main) {
  const { url } = startBackend(parsePort(Deno.args));
  console.log(url);
}
