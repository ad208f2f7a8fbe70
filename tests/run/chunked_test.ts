/**
 * A bad chunk size: arriving after the head it is a 400 `bad_request`, logged;
 * sent in the same write as the head, Deno's HTTP server rejects the request
 * before lrp's handler runs and closes the connection without an answer
 * (documented in docs/operations.md). Either way lrp keeps serving.
 *
 * @module
 */

import assert from "node:assert/strict";
import { serveLrp } from "../helpers/in_process.ts";
import { readAll, request } from "../helpers/socket.ts";
import { fakeRie } from "../fakes/rie.ts";

const te = new TextEncoder();
const HEAD = "POST / HTTP/1.1\r\nHost: app.test\r\nTransfer-Encoding: chunked\r\n\r\n";

Deno.test("a bad chunk size after the head is a logged 400; with the head the connection closes unanswered", async () => {
  await using rie = fakeRie(() => ({ statusCode: 200, body: "ok" }));
  await using lrp = await serveLrp(`local:\n  - hostname: app.test\n    endpoint: ${rie.url}\n`);

  const later = await Deno.connect({ hostname: "127.0.0.1", port: lrp.port });
  await later.write(te.encode(HEAD));
  await new Promise((r) => setTimeout(r, 50));
  await later.write(te.encode("zz\r\nhello\r\n0\r\n\r\n"));
  const answered = await readAll(later);
  assert.match(answered, /^HTTP\/1\.1 400 Bad Request\r\n/);
  assert.deepEqual(lrp.lines.filter((l) => l.error === "bad_request").map((l) => [l.msg, l.status]), [[
    "request",
    400,
  ]]);

  const together = await Deno.connect({ hostname: "127.0.0.1", port: lrp.port });
  await together.write(te.encode(`${HEAD}zz\r\nhello\r\n0\r\n\r\n`));
  assert.equal(await readAll(together), "");
  assert.equal(lrp.lines.filter((l) => l.msg === "request").length, 1);

  assert.deepEqual([(await request(lrp.port, "app.test", "/")).status, rie.invocations], [200, 1]);
});
