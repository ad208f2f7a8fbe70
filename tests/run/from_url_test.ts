import assert from "node:assert/strict";
import { extname, join, normalize } from "node:path";
import { ROOT, startLrpChild } from "../helpers/process.ts";

const TYPES: Record<string, string> = {
  ".ts": "application/typescript; charset=utf-8",
  ".json": "application/json",
};

/** Serves the repository's files over HTTP on loopback, as a web server or raw.githubusercontent.com would. */
function serveRepository(): Deno.HttpServer<Deno.NetAddr> & { requested: string[] } {
  const requested: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    const path = normalize(decodeURIComponent(new URL(request.url).pathname));
    requested.push(path);
    if (path.includes("..")) return new Response("bad path", { status: 400 });
    try {
      const bytes = await Deno.readFile(join(ROOT, path));
      return new Response(bytes, { headers: { "content-type": TYPES[extname(path)] ?? "text/plain" } });
    } catch {
      return new Response("not found", { status: 404 });
    }
  });
  return Object.assign(server, { requested });
}

Deno.test("deno run <URL of main.ts> serves, without the project's deno.json or lock file", async () => {
  await using repo = serveRepository();
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(join(dir, "lrp.yaml"), "internal_route_prefix: _lrp\n");
    const entry = `http://127.0.0.1:${repo.addr.port}/main.ts`;
    await using lrp = await startLrpChild(["--host", "127.0.0.1", "--port", "0", "lrp.yaml"], {
      entry,
      cwd: dir,
      denoArgs: ["-A", "--no-config", "--no-lock", "--reload=" + `http://127.0.0.1:${repo.addr.port}/`],
    });
    const ping = await fetch(`${lrp.url}/_lrp/ping`);
    assert.equal(await ping.text(), "pong");
    const health = await (await fetch(`${lrp.url}/_lrp/healthz`)).json();
    const denoJson = JSON.parse(await Deno.readTextFile(join(ROOT, "deno.json")));
    assert.equal(health.version, denoJson.version);
    // The modules, deno.json included, came over HTTP.
    assert.ok(repo.requested.includes("/main.ts"));
    assert.ok(repo.requested.includes("/deno.json"));
    assert.ok(repo.requested.includes("/lib/handle/handler.ts"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
