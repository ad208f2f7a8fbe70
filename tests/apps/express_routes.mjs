/**
 * The Express parity app's routes, in plain JavaScript with Express passed in,
 * so the very same code runs under Deno's Node compatibility
 * (`express_app.ts`, with `npm:` imports) and under Node.js (the
 * `runtime: nodejs` handler folder of `tests/runtime/fixtures/node_apps/`).
 * Routes mirror the Hono app so the two adapters can be compared.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { ETAG, PNG_BYTES, sha256Hex } from "./hono_routes.mjs";

/** Parses a `Cookie` header into name/value pairs (first occurrence wins). */
function parseCookies(header) {
  const out = {};
  for (const part of (header ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq === -1) continue;
    const name = part.slice(0, eq).trim();
    if (name && !(name in out)) out[name] = decodeURIComponent(part.slice(eq + 1).trim());
  }
  return out;
}

/** Describes a raw body: length, digest, and a parse by content type. */
async function describeBody(req) {
  const bytes = Buffer.isBuffer(req.body) ? new Uint8Array(req.body) : new Uint8Array();
  const contentType = req.get("content-type") ?? null;
  const out = { contentType, length: bytes.length, sha256: await sha256Hex(bytes) };
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

/**
 * Builds the app from the `express` module's default export.
 * @param {any} express
 */
export function createExpressApp(express) {
  const app = express();

  // No `x-powered-by` and no automatic weak ETags: keep responses minimal and explicit.
  app.disable("x-powered-by");
  app.set("etag", false);
  // Every body arrives as raw bytes so its digest is exact whatever the content type.
  app.use(express.raw({ type: () => true, limit: "10mb" }));

  app.get("/query", (req, res) => {
    res.json({ target: req.originalUrl, query: req.query });
  });

  app.get("/path/*rest", (req, res) => {
    res.json({ path: req.path, target: req.originalUrl, params: req.params });
  });

  app.all("/body", async (req, res) => {
    res.json({ method: req.method, ...(await describeBody(req)) });
  });

  app.get("/cookies", (req, res) => {
    res.cookie("session", "abc123", { path: "/", httpOnly: true });
    res.cookie("theme", "dark", { path: "/", maxAge: 3600_000 });
    res.cookie("lang", "en-US", { path: "/", sameSite: "lax" });
    res.json({ cookieHeader: req.get("cookie") ?? null, received: parseCookies(req.get("cookie")) });
  });

  app.get("/redirect", (_req, res) => {
    res.redirect(302, "/query?from=redirect&x=1&x=2");
  });

  app.delete("/items/:id", (_req, res) => {
    res.status(204).end();
  });

  app.get("/etag", (req, res) => {
    res.set("etag", ETAG).set("cache-control", "no-cache");
    if (req.get("if-none-match") === ETAG) res.status(304).end();
    else res.type("text/plain").send("fresh representation\n");
  });

  app.get("/head", (_req, res) => {
    res.set("x-lrp-route", "head").type("text/plain").send("body that HEAD must not send\n");
  });

  app.get("/png", (_req, res) => {
    res.type("image/png").send(Buffer.from(PNG_BYTES));
  });

  app.get("/teapot", (_req, res) => {
    res.status(418).set({ "x-lrp-custom": "a, b", "x-lrp-empty": "" }).type("text/plain").send(
      "short and stout\n",
    );
  });

  app.all("/{*rest}", async (req, res) => {
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

  return app;
}

/**
 * The serverless-http options of the Lambda handler. Like on AWS,
 * serverless-http must be told which response types are binary, or it sends
 * them as (mangled) text.
 */
export const SERVERLESS_OPTIONS = { binary: ["image/*", "application/octet-stream"] };
