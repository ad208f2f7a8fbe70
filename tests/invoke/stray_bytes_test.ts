/**
 * An upstream keep-alive connection that shows bytes outside a response is
 * never reused: with three invocations queued on one endpoint, each caller
 * gets its own answer or a 502, never another's — whether the surplus comes
 * in the same segment, just as the next request is written, or 50 ms later.
 *
 * @module
 */

import assert from "node:assert/strict";
import { LocalInvoker } from "../../lib/invoke/local.ts";
import { type Exchange, httpResponse, startRawUpstream } from "../fakes/raw_upstream.ts";

const te = new TextEncoder();
const td = new TextDecoder();

/** The answer for the request whose trace id is `id`: a 2.0 result carrying the id. */
const answer = (id: string) => httpResponse(200, JSON.stringify({ statusCode: 200, body: id }));
const idOf = (ex: Exchange) => /\r\nx-amzn-trace-id: (\S+)/i.exec(ex.head)![1]!;

async function runThree(script: (ex: Exchange) => Promise<void>): Promise<string[]> {
  await using upstream = startRawUpstream(script);
  const invoker = new LocalInvoker({
    endpoint: upstream.url,
    concurrency: 1,
    maxWaiting: 10,
    maxWaitMs: 10_000,
  });
  try {
    const ids = ["req-1", "req-2", "req-3"];
    const outcomes = await Promise.all(ids.map(async (id) => {
      try {
        const r = await invoker.invoke({
          payload: te.encode("{}"),
          traceId: id,
          signal: new AbortController().signal,
        });
        const body = JSON.parse(td.decode(r.body as Uint8Array)).body;
        return body === id ? "own" : `${id} got ${body}`;
      } catch (err) {
        return (err as { status?: number }).status === 502 ? "502" : `${id} failed: ${err}`;
      }
    }));
    return outcomes;
  } finally {
    await invoker.close?.();
  }
}

const allOwnOr502 = (outcomes: string[]) =>
  assert.deepEqual(outcomes.filter((o) => o !== "own" && o !== "502"), [], outcomes.join(", "));

Deno.test("a second complete answer 50 ms after the first: each queued caller gets its own answer or a 502", async () => {
  const outcomes = await runThree(async (ex) => {
    const id = idOf(ex);
    await ex.write(answer(id));
    await ex.sleep(50);
    await ex.write(answer(id));
  });
  allOwnOr502(outcomes);
});

Deno.test("a second answer in the same segment as the first retires the connection", async () => {
  const outcomes = await runThree(async (ex) => {
    const id = idOf(ex);
    const one = answer(id);
    const both = new Uint8Array(one.length * 2);
    both.set(one);
    both.set(one, one.length);
    await ex.write(both);
  });
  allOwnOr502(outcomes);
});

Deno.test("a second answer arriving just as the next request is written is not taken for its answer", async () => {
  const outcomes = await runThree(async (ex) => {
    const id = idOf(ex);
    await ex.write(answer(id));
    await ex.write(answer(id));
  });
  allOwnOr502(outcomes);
});

Deno.test("a slow function's late duplicate answer never reaches the next queued caller", async () => {
  const outcomes = await runThree(async (ex) => {
    const id = idOf(ex);
    await ex.sleep(30);
    await ex.write(answer(id));
    await ex.sleep(50);
    await ex.write(answer(id));
  });
  allOwnOr502(outcomes);
});
