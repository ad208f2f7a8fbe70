/**
 * A bad chunk size is a 400 `bad_request` whose message names it, logged and
 * counted, whether it arrives after the head or in the same write; either
 * way the connection closes and lrp keeps serving.
 *
 * @module
 */

import assert from "node:assert/strict";
import { readAll, request } from "../helpers/socket.ts";
import { startLrpChild, tempConfig, waitFor } from "../helpers/process.ts";
import { fakeRie } from "../fakes/rie.ts";

const te = new TextEncoder();
const HEAD = "POST / HTTP/1.1\r\nHost: app.test\r\nTransfer-Encoding: chunked\r\n\r\n";

Deno.test("a bad chunk size, after the head or with it, is a logged and counted 400 and the connection closes", async () => {
  await using rie = fakeRie(() => ({ statusCode: 200, body: "ok" }));
  const config = await tempConfig(`local:\n  - hostname: app.test\n    endpoint: ${rie.url}\n`);
  await using lrp = await startLrpChild(["--host", "127.0.0.1", "--port", "0", config]);
  const port = Number(new URL(lrp.url).port);

  const later = await Deno.connect({ hostname: "127.0.0.1", port });
  await later.write(te.encode(HEAD));
  await new Promise((r) => setTimeout(r, 50));
  await later.write(te.encode("zz\r\nhello\r\n0\r\n\r\n"));
  const answeredLater = await readAll(later);

  const together = await Deno.connect({ hostname: "127.0.0.1", port });
  await together.write(te.encode(`${HEAD}zz\r\nhello\r\n0\r\n\r\n`));
  const answeredTogether = await readAll(together);

  for (const text of [answeredLater, answeredTogether]) {
    assert.match(text, /^HTTP\/1\.1 400 Bad Request\r\n/);
    assert.match(text, /\r\nconnection: close\r\n/);
    const body = JSON.parse(text.slice(text.indexOf("\r\n\r\n") + 4));
    assert.equal(body.error, "bad_request");
    assert.match(body.message, /invalid chunk size "zz"/);
  }
  const logged = await lrp.waitForLine((l) => l.error === "bad_request" && l.msg === "request");
  assert.equal(logged.status, 400);
  assert.deepEqual([(await request(port, "app.test", "/")).status, rie.invocations], [200, 1]);
  const metrics = await (await fetch(`${lrp.url}/metrics`)).text();
  assert.match(metrics, /lrp_requests_total\{route="app\.test",code="4xx"\} 2\b/);
  // Access lines are written in batches: the second may still be on its way.
  const refused = () => lrp.lines.filter((l) => l.error === "bad_request").length;
  await waitFor("two bad_request lines", () => refused() >= 2 || undefined).catch(() => {});
  assert.equal(refused(), 2);
  await Deno.remove(config);
});
