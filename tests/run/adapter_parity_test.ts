/**
 * The promise of lrp: a Lambda handler written with a framework adapter,
 * behind lrp and an RIE, answers a browser-like set of requests byte for byte
 * as the same app served directly.
 */
import { handlerWith } from "../helpers/in_process.ts";
import assert from "node:assert/strict";
import { LocalInvoker } from "../../lib/invoke/local.ts";
import { type LambdaHandler, startRie } from "../fakes/rie.ts";
import * as express from "../apps/express_app.ts";
import * as hono from "../apps/hono_app.ts";
import {
  comparable,
  type Direct,
  PARITY_REQUESTS,
  send,
  serveExpressDirect,
  serveHonoDirect,
} from "../helpers/parity.ts";

async function parity(serveDirect: () => Promise<Direct>, handler: LambdaHandler) {
  await using direct = await serveDirect();
  await using rie = startRie({ handler });
  const invoker = new LocalInvoker({ endpoint: rie.url, concurrency: 1, maxWaiting: 10, maxWaitMs: 5000 });
  const { handler: lrpHandler } = handlerWith(
    `local:\n  - hostname: app.test\n    endpoint: ${rie.url}\n`,
    invoker,
    {
      listenPort: 0,
    },
  );
  await using lrp = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, lrpHandler);
  try {
    for (const r of PARITY_REQUESTS) {
      const viaDirect = await send(direct.port, "app.test", r);
      const viaLrp = await send(lrp.addr.port, "app.test", r);
      assert.deepEqual(comparable(viaLrp), comparable(viaDirect), r.name);
    }
  } finally {
    invoker.close();
  }
}

Deno.test("a Hono app behind lrp (hono/aws-lambda) answers byte for byte as served directly", async () => {
  await parity(serveHonoDirect, hono.handler as LambdaHandler);
});

Deno.test("an Express app behind lrp (serverless-http) answers byte for byte as served directly", async () => {
  await parity(serveExpressDirect, express.handler as unknown as LambdaHandler);
});
