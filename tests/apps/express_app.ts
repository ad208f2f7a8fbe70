/**
 * An Express app used as a parity fixture, like `hono_app.ts` but through the
 * Node compatibility layer: the same `app` is served directly with
 * `app.listen()` and, wrapped by `serverless-http`, as a Lambda handler behind
 * lrp. Routes mirror the Hono app so the two adapters can be compared.
 *
 * Run it directly: `deno run -A tests/apps/express_app.ts [port]`.
 *
 * @module
 */

// @ts-types="npm:@types/express@5.0.6"
import express from "npm:express@5.3.0";
import type { Request, Response } from "npm:@types/express@5.0.6";
import serverless from "npm:serverless-http@4.0.0";
import { Buffer } from "node:buffer";
import { ETAG, PNG_BYTES, sha256Hex } from "./hono_app.ts";

/** Parses a `Cookie` header into name/value pairs (first occurrence wins). */
function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (header ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq === -1) continue;
    const name = part.slice(0, eq).trim();
    if (name && !(name in out)) out[name] = decodeURIComponent(part.slice(eq + 1).trim());
  }
  return out;
}

/** Describes a raw body: length, digest, and a parse by content type. */
async function describeBody(req: Request): Promise<Record<string, unknown>> {
  const bytes = Buffer.isBuffer(req.body) ? new Uint8Array(req.body) : new Uint8Array();
  const contentType = req.get("content-type") ?? null;
  const out: Record<string, unknown> = { contentType, length: bytes.length, sha256: await sha256Hex(bytes) };
  const text = new TextDecoder().decode(bytes);
  if (contentType?.includes("json")) {
    try {
      out.json = JSON.parse(text);
    } catch (err) {
      out.jsonError = String(err);
    }
  } else if (contentType?.startsWith("application/x-www-form-urlencoded")) {
    out.form = [...new URLSearchParams(text)];
  }
  return out;
}

/** The Express app; serve it directly with `app.listen(port)`. */
export const app: express.Express = express();

// No `x-powered-by` and no automatic weak ETags: keep responses minimal and explicit.
app.disable("x-powered-by");
app.set("etag", false);
// Every body arrives as raw bytes so its digest is exact whatever the content type.
app.use(express.raw({ type: () => true, limit: "10mb" }));

app.get("/query", (req: Request, res: Response) => {
  res.json({ target: req.originalUrl, query: req.query });
});

app.get("/path/*rest", (req: Request, res: Response) => {
  res.json({ path: req.path, target: req.originalUrl, params: req.params });
});

app.all("/body", async (req: Request, res: Response) => {
  res.json({ method: req.method, ...(await describeBody(req)) });
});

app.get("/cookies", (req: Request, res: Response) => {
  res.cookie("session", "abc123", { path: "/", httpOnly: true });
  res.cookie("theme", "dark", { path: "/", maxAge: 3600_000 });
  res.cookie("lang", "en-US", { path: "/", sameSite: "lax" });
  res.json({ cookieHeader: req.get("cookie") ?? null, received: parseCookies(req.get("cookie")) });
});

app.get("/redirect", (_req: Request, res: Response) => {
  res.redirect(302, "/query?from=redirect&x=1&x=2");
});

app.delete("/items/:id", (_req: Request, res: Response) => {
  res.status(204).end();
});

app.get("/etag", (req: Request, res: Response) => {
  res.set("etag", ETAG).set("cache-control", "no-cache");
  if (req.get("if-none-match") === ETAG) res.status(304).end();
  else res.type("text/plain").send("fresh representation\n");
});

app.get("/head", (_req: Request, res: Response) => {
  res.set("x-lrp-route", "head").type("text/plain").send("body that HEAD must not send\n");
});

app.get("/png", (_req: Request, res: Response) => {
  res.type("image/png").send(Buffer.from(PNG_BYTES));
});

app.get("/teapot", (_req: Request, res: Response) => {
  res.status(418).set({ "x-lrp-custom": "a, b", "x-lrp-empty": "" }).type("text/plain").send(
    "short and stout\n",
  );
});

app.all("/{*rest}", async (req: Request, res: Response) => {
  res.json({
    method: req.method,
    path: req.path,
    target: req.originalUrl,
    query: req.query,
    cookies: parseCookies(req.get("cookie")),
    headers: Object.entries(req.headers).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
    body: await describeBody(req),
  });
});

/**
 * The same app as an AWS Lambda handler via `serverless-http`. Like on AWS,
 * serverless-http must be told which response types are binary, or it sends
 * them as (mangled) text.
 */
export const handler: serverless.Handler = serverless(app, {
  binary: ["image/*", "application/octet-stream"],
});

if (import.meta.main) {
  const port = Number(Deno.args[0] ?? "8001");
  app.listen(port, () => console.log(`express_app listening on ${port}`));
}
