/**
 * BENCH BASELINE — NOT PART OF LRP. The naive Deno proxy in ~30 lines: for
 * each request it builds a minimal payload-2.0 event (method, path, query,
 * headers, body as text), `fetch`es the upstream RIE-style endpoint with it
 * and answers the result's `statusCode`, `headers` and `body`. It is what one
 * writes first; the bench shows what that costs per request.
 *
 * Run: `deno run -A bench/baselines/fetch_proxy.ts --port 0 --upstream http://127.0.0.1:PORT`;
 * the first line on stdout is its URL.
 *
 * @module
 */

const arg = (flag: string, fallback: string) =>
  Deno.args.includes(flag) ? Deno.args[Deno.args.indexOf(flag) + 1] ?? fallback : fallback;
const upstream = `${arg("--upstream", "http://127.0.0.1:9000")}/2015-03-31/functions/function/invocations`;

const server = Deno.serve(
  { hostname: "127.0.0.1", port: Number(arg("--port", "0")), onListen() {} },
  async (req) => {
    const url = new URL(req.url);
    const body = req.body ? await req.text() : "";
    const event = {
      version: "2.0",
      rawPath: url.pathname,
      rawQueryString: url.search.slice(1),
      headers: Object.fromEntries(req.headers),
      requestContext: { http: { method: req.method, path: url.pathname } },
      body,
      isBase64Encoded: false,
    };
    const res = await fetch(upstream, { method: "POST", body: JSON.stringify(event) });
    const result = await res.json();
    return new Response(result.body ?? null, {
      status: result.statusCode ?? 200,
      headers: result.headers ?? {},
    });
  },
);
console.log(`http://127.0.0.1:${server.addr.port}`);
