/**
 * The Hono parity app's routes, in plain JavaScript with Hono passed in, so
 * the very same code runs under Deno (`hono_app.ts`, with `npm:` imports) and
 * under Node.js (the `runtime: nodejs` handler folder of
 * `tests/runtime/fixtures/node_apps/`, with `hono` from a `node_modules`).
 * Every route echoes what it received in a deterministic form, so the ways of
 * serving the app can be compared byte for byte.
 *
 * @module
 */

/** A 1x1 RGBA PNG (70 bytes), served by `GET /png` as a binary body. */
export const PNG_BYTES = Uint8Array.from(
  atob("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGP4z8DwHwAFAAH/iZk9HQAAAABJRU5ErkJggg=="),
  (ch) => ch.charCodeAt(0),
);

/** The entity tag of `GET /etag`; a matching `If-None-Match` yields 304. */
export const ETAG = '"lrp-v1"';

/**
 * Hex SHA-256 of some bytes.
 * @param {Uint8Array<ArrayBuffer>} bytes
 * @returns {Promise<string>}
 */
export async function sha256Hex(bytes) {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * The request target (path and query) exactly as the app sees it: the URL minus
 * its origin. Direct serving and the Lambda adapter build different origins
 * (`http://localhost:port` vs `https://<domainName>`), so only the target is compared.
 */
function rawTarget(url) {
  return url.slice(new URL(url).origin.length);
}

/** The raw path part of a request URL, before any percent-decoding. */
function rawPath(url) {
  const target = rawTarget(url);
  const q = target.indexOf("?");
  return q === -1 ? target : target.slice(0, q);
}

/** Reads the raw body and describes it: length, digest, and a parse by content type. */
async function describeBody(c) {
  const bytes = new Uint8Array(await c.req.arrayBuffer());
  const contentType = c.req.header("content-type") ?? null;
  const out = { contentType, length: bytes.length, sha256: await sha256Hex(bytes) };
  const text = new TextDecoder().decode(bytes);
  if (contentType?.includes("json")) {
    try {
      out.json = JSON.parse(text);
    } catch (err) {
      out.jsonError = String(err);
    }
  } else if (contentType?.startsWith("application/x-www-form-urlencoded")) {
    // Entries, not an object, so repeated keys and their order survive.
    out.form = [...new URLSearchParams(text)];
  }
  return out;
}

/** Request headers as sorted `[name, value]` pairs (names are lowercase in `Headers`). */
function headerPairs(c) {
  return [...c.req.raw.headers].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * Builds the app from the Hono module and its cookie helpers.
 * @param {{ Hono: new () => any, getCookie: Function, setCookie: Function }} hono
 */
export function createHonoApp({ Hono, getCookie, setCookie }) {
  const app = new Hono();

  // Repeated query keys: queries() keeps every value; query() keeps the first.
  app.get("/query", (c) =>
    c.json({
      target: rawTarget(c.req.url),
      queries: c.req.queries(),
      query: c.req.query(),
    }));

  // Percent-encoded paths: Hono's c.req.path vs the raw path of the URL.
  app.get("/path/*", (c) =>
    c.json({
      path: c.req.path,
      rawPath: rawPath(c.req.url),
      target: rawTarget(c.req.url),
    }));

  // JSON, form and binary bodies: digest of the raw bytes plus a parse.
  app.on(
    ["POST", "PUT", "PATCH"],
    "/body",
    async (c) => c.json({ method: c.req.method, ...(await describeBody(c)) }),
  );

  // Several cookies each way: all request cookies echoed, three Set-Cookie headers sent.
  app.get("/cookies", (c) => {
    const received = getCookie(c);
    setCookie(c, "session", "abc123", { path: "/", httpOnly: true });
    setCookie(c, "theme", "dark", { path: "/", maxAge: 3600 });
    setCookie(c, "lang", "en-US", { path: "/", sameSite: "Lax" });
    return c.json({ cookieHeader: c.req.header("cookie") ?? null, received });
  });

  app.get("/redirect", (c) => c.redirect("/query?from=redirect&x=1&x=2", 302));

  app.delete("/items/:id", (c) => c.body(null, 204));

  // Conditional GET: 304 with the ETag and no body when If-None-Match matches.
  app.get("/etag", (c) => {
    c.header("etag", ETAG);
    c.header("cache-control", "no-cache");
    if (c.req.header("if-none-match") === ETAG) return c.body(null, 304);
    return c.text("fresh representation\n");
  });

  // HEAD is answered by Hono from this GET route, with the headers and without the body.
  app.get("/head", (c) => {
    c.header("x-lrp-route", "head");
    return c.text("body that HEAD must not send\n");
  });

  app.get("/png", (c) => c.body(PNG_BYTES.slice(), 200, { "content-type": "image/png" }));

  // A custom status with a reason phrase clients do not see and a custom header with a comma.
  app.get("/teapot", (c) => c.text("short and stout\n", 418, { "x-lrp-custom": "a, b", "x-lrp-empty": "" }));

  // Everything else: a full echo, so any golden event can be replayed against the app.
  app.all("*", async (c) =>
    c.json({
      method: c.req.method,
      path: c.req.path,
      target: rawTarget(c.req.url),
      queries: c.req.queries(),
      cookies: getCookie(c),
      headers: headerPairs(c),
      body: await describeBody(c),
    }));

  return app;
}
