/**
 * The parity tests' shared parts: the browser-like request set, the
 * comparable form of a response, the two framework apps served directly, and
 * a `node_modules` folder materialised for a Node.js handler folder without
 * the internet (from Deno's npm cache, at exactly the versions of deno.lock).
 *
 * @module
 */

import type { AddressInfo } from "node:net";
import * as express from "../apps/express_app.ts";
import * as hono from "../apps/hono_app.ts";
import { rawHttp, type RawResponse } from "./socket.ts";

const te = new TextEncoder();

/** One request of the set: its request line, extra header lines and body. */
export interface ParityRequest {
  name: string;
  line: string;
  headers?: string[];
  body?: Uint8Array;
}

/** A browser-like set of requests every framework app must answer identically however it is served. */
export const PARITY_REQUESTS: readonly ParityRequest[] = [
  { name: "repeated and encoded query", line: "GET /query?x=1&x=2&y=%20z&e=%E2%82%AC&plus=a+b&flag" },
  { name: "percent-encoded path", line: "GET /path/a%2Fb/c%20d/%7Euser/caf%C3%A9" },
  {
    name: "JSON body",
    line: "POST /body",
    headers: ["Content-Type: application/json; charset=utf-8"],
    body: te.encode('{"a":[1,2,{"b":"ü"}]}'),
  },
  {
    name: "form body",
    line: "POST /body",
    headers: ["Content-Type: application/x-www-form-urlencoded"],
    body: te.encode("x=1&x=2&name=a+b&e=%E2%82%AC"),
  },
  {
    name: "binary body",
    line: "PUT /body",
    headers: ["Content-Type: application/octet-stream"],
    body: new Uint8Array(300).map((_, i) => (i * 7) % 256),
  },
  { name: "several cookies each way", line: "GET /cookies", headers: ["Cookie: a=1; b=two; c=%20x"] },
  { name: "redirect", line: "GET /redirect" },
  { name: "204", line: "DELETE /items/42" },
  { name: "304", line: "GET /etag", headers: ['If-None-Match: "lrp-v1"'] },
  { name: "200 with etag", line: "GET /etag" },
  { name: "HEAD", line: "HEAD /head" },
  { name: "binary response", line: "GET /png", headers: ["Accept: image/png"] },
  { name: "custom status and headers", line: "GET /teapot" },
];

/** Headers that legitimately differ between two servers. */
const VOLATILE = new Set(["date"]);

/** A response as compared: status, sorted headers minus volatile ones, body bytes. */
export function comparable(
  res: RawResponse,
): { status: number; headers: [string, string][]; body: number[] } {
  return {
    status: res.status,
    headers: res.headers.filter(([n]) => !VOLATILE.has(n)).sort(([a, x], [b, y]) =>
      a < b ? -1 : a > b ? 1 : x < y ? -1 : 1
    ),
    body: Array.from(res.body),
  };
}

/** Sends one request of the set to a port with the given Host, on a fresh connection. */
export function send(port: number, host: string, r: ParityRequest): Promise<RawResponse> {
  const [method, target] = r.line.split(" ");
  const lines = [`${method} ${target} HTTP/1.1`, `Host: ${host}`, ...(r.headers ?? [])];
  if (r.body) lines.push(`Content-Length: ${r.body.length}`);
  return rawHttp(port, lines.join("\r\n"), r.body);
}

/** A server of an app itself, on a free loopback port. */
export interface Direct extends AsyncDisposable {
  port: number;
}

/** The Hono app served directly by `Deno.serve`. */
export function serveHonoDirect(): Promise<Direct> {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, hono.app.fetch);
  return Promise.resolve({ port: server.addr.port, [Symbol.asyncDispose]: () => server.shutdown() });
}

/** The Express app served directly by `app.listen`. */
export function serveExpressDirect(): Promise<Direct> {
  return new Promise((resolve) => {
    const server = express.app.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      resolve({ port, [Symbol.asyncDispose]: () => new Promise((done) => server.close(() => done())) });
    });
  });
}

const LOCK = new URL("../../deno.lock", import.meta.url);

/** What `materialiseNodeModules` installed. */
export interface Installed {
  /** `name@version` of every package in node_modules, as deno.lock's `npm` keys spell them. */
  packages: string[];
  /** deno.lock's `npm` keys, to check `packages` against. */
  locked: Set<string>;
}

/**
 * Installs the dependencies named in `dir/package.json` into `dir/node_modules`
 * with `deno install`, from Deno's npm cache only (`--cached-only`, which CI
 * fills from deno.lock before the tests) and pinned by a copy of deno.lock
 * restricted to those dependencies (`--frozen`, so no version can drift).
 * Every dependency must be pinned exactly and present in deno.lock.
 */
export async function materialiseNodeModules(dir: string): Promise<Installed> {
  const pkg = JSON.parse(await Deno.readTextFile(`${dir}/package.json`)) as {
    name: string;
    dependencies: Record<string, string>;
  };
  const lock = JSON.parse(await Deno.readTextFile(LOCK)) as {
    version: string;
    specifiers: Record<string, string>;
    npm: Record<string, unknown>;
  };
  const wanted = Object.entries(pkg.dependencies).map(([name, version]) => `npm:${name}@${version}`);
  const specifiers: Record<string, string> = {};
  for (const s of wanted) {
    const resolved = lock.specifiers[s];
    if (resolved === undefined) throw new Error(`${s} is not in deno.lock`);
    specifiers[s] = resolved;
  }
  await Deno.writeTextFile(
    `${dir}/deno.lock`,
    JSON.stringify({
      version: lock.version,
      specifiers,
      npm: lock.npm,
      workspace: { packageJson: { dependencies: wanted.sort() } },
    }),
  );
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["install", "--frozen", "--cached-only", "--node-modules-dir=auto"],
    cwd: dir,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`deno install failed in ${dir}: ${new TextDecoder().decode(out.stderr)}`);
  }
  const packages: string[] = [];
  for await (const entry of Deno.readDir(`${dir}/node_modules/.deno`)) {
    // Deno's layout: node_modules/.deno/<name, / as +>@<version>/node_modules/<name>, beside its own
    // hoisting folder (node_modules) and an entry for the folder's package itself.
    if (!entry.isDirectory || entry.name === "node_modules" || entry.name.startsWith(`${pkg.name}@`)) {
      continue;
    }
    packages.push(entry.name.replace("+", "/"));
  }
  return { packages: packages.sort(), locked: new Set(Object.keys(lock.npm)) };
}
