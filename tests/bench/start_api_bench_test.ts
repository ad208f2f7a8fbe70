/**
 * The bench's start-api template: three Node.js functions on three routes,
 * served by a real `lrp start-api` that answers the path the bench loads.
 */
import assert from "node:assert/strict";
import { benchTemplate, START_API_PATH } from "../../bench/start_api.ts";
import { FUNCTION_HANDLER } from "../../bench/procs.ts";
import { startLrpChild } from "../helpers/process.ts";

Deno.test("the bench's start-api template serves three functions, and the loaded path answers ok", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.mkdir(`${dir}/src`);
  await Deno.writeTextFile(`${dir}/src/index.mjs`, FUNCTION_HANDLER);
  await Deno.writeTextFile(`${dir}/template.yaml`, benchTemplate());
  await using lrp = await startLrpChild(["start-api", "--port", "0", "--no-watch"], { cwd: dir });
  const res = await fetch(`http://127.0.0.1:${lrp.port}${START_API_PATH}`);
  assert.equal(await res.text(), "ok");
  assert.deepEqual(lrp.stdout.map((l) => l.replace(/ on node [\d.]+/, "").replace(/:\d+\//, ":PORT/")), [
    "GET http://127.0.0.1:PORT/a → A (nodejs20.x, index.handler) [HTTP API ServerlessHttpApi]",
    "GET http://127.0.0.1:PORT/b/{id} → B (nodejs20.x, index.handler) [HTTP API ServerlessHttpApi]",
    "ANY http://127.0.0.1:PORT/* ($default) → Rest (nodejs20.x, index.handler) [HTTP API ServerlessHttpApi]",
  ]);
  await Deno.remove(dir, { recursive: true });
});
