/**
 * An in-process fake RIE on loopback: answers every invocation at the RIE's
 * path with `answer(event)` as JSON, 404 elsewhere, and counts invocations.
 *
 * @module
 */

import { RIE_INVOKE_PATH } from "../../lib/invoke/rie.ts";

/** A fake RIE: answers every invocation with `answer(event)` as a payload 2.0 result. */
export function fakeRie(
  answer: (event: Record<string, unknown>) => unknown | Promise<unknown>,
): Deno.HttpServer<Deno.NetAddr> & { url: string; invocations: number } {
  const state = { invocations: 0 };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    if (new URL(request.url).pathname !== RIE_INVOKE_PATH) return new Response("not found", { status: 404 });
    state.invocations++;
    return Response.json(await answer(await request.json()));
  });
  return Object.defineProperties(server as typeof server & { url: string; invocations: number }, {
    url: { value: `http://127.0.0.1:${server.addr.port}` },
    invocations: { get: () => state.invocations },
  });
}
