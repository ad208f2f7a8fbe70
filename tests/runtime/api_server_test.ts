/**
 * The Runtime API on lrp's own HTTP/1.1 server (lib/runtime/api_server.ts):
 * a runtime's keep-alive connection carries `next`, the answer and the next
 * `next`; a malformed request is refused in Lambda's error shape by lrp's
 * codec; and closing the listener answers a pending `next` 500, ends its
 * connection and stops accepting.
 */
import assert from "node:assert/strict";
import { type Answer, type Invocation, RuntimeApi } from "../../lib/runtime/api.ts";
import { readAll, readResponse } from "../helpers/socket.ts";

const te = new TextEncoder();

function invocation(id: string, payload: string, answers: Answer[]): Invocation {
  return {
    id,
    payload: te.encode(payload),
    deadlineMs: 1_700_000_000_000,
    answer: (a) => answers.push(a),
    delivered: () => {},
    finished: () => {},
  };
}

function newApi(): RuntimeApi {
  return new RuntimeApi({
    functionArn: "arn:aws:lambda:us-east-1:012345678912:function:f",
    onReady: () => {},
    onInitError: () => {},
  });
}

function portAndKey(api: RuntimeApi): { port: number; key: string } {
  const [host, key] = api.address.split("/");
  return { port: Number(host!.split(":")[1]), key: key! };
}

function bodyOf(response: string): string {
  return response.slice(response.indexOf("\r\n\r\n") + 4);
}

Deno.test("one keep-alive connection carries next, the response and the next next; close answers the pending next 500 and ends the connection", async () => {
  const api = newApi();
  const { port, key } = portAndKey(api);
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const answers: Answer[] = [];
    const next = `GET /${key}/2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n`;
    await conn.write(te.encode(next));
    api.assign(invocation("id-1", '{"a":1}', answers));
    const event = await readResponse(conn);
    assert.match(event, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(event, /\r\nlambda-runtime-aws-request-id: id-1\r\n/i);
    assert.match(event, /\r\nlambda-runtime-deadline-ms: 1700000000000\r\n/i);
    assert.equal(bodyOf(event), '{"a":1}');

    const result = '{"ok":true}';
    await conn.write(te.encode(
      `POST /2018-06-01/runtime/invocation/id-1/response HTTP/1.1\r\nHost: x\r\nContent-Length: ${result.length}\r\n\r\n${result}`,
    ));
    const accepted = await readResponse(conn);
    assert.match(accepted, /^HTTP\/1\.1 202 Accepted\r\n/);
    assert.equal(bodyOf(accepted), '{"status":"OK"}');
    assert.equal(answers.length, 1);
    assert.equal(answers[0]!.kind, "buffered");
    assert.equal(new TextDecoder().decode((answers[0] as { bytes: Uint8Array }).bytes), result);

    // The same connection's next waits: no event is assigned until the listener closes.
    await conn.write(te.encode(next));
    await new Promise((r) => setTimeout(r, 1_500));
    await api.close();
    const shutdown = await readAll(conn);
    assert.match(shutdown, /^HTTP\/1\.1 500 Internal Server Error\r\n/);
    assert.equal(
      bodyOf(shutdown),
      '{"errorMessage":"lrp is stopping this runtime process","errorType":"Runtime.Shutdown"}',
    );
    await assert.rejects(Deno.connect({ hostname: "127.0.0.1", port }), "the listener is closed");
  } finally {
    try {
      conn.close();
    } catch { /* readAll closed it */ }
    await api.close();
  }
});

Deno.test("a malformed request to the Runtime API is refused 400 in Lambda's error shape, and its connection closed", async () => {
  const api = newApi();
  const { port } = portAndKey(api);
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await conn.write(te.encode("GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nBad Header\r\n\r\n"));
    const text = await readAll(conn);
    assert.match(text, /^HTTP\/1\.1 400 Bad Request\r\n/);
    assert.match(text, /\r\nconnection: close\r\n/i);
    const body = JSON.parse(bodyOf(text));
    assert.equal(body.errorType, "InvalidRequest");
    assert.match(body.errorMessage, /^Cannot read the request: /);
  } finally {
    await api.close();
  }
});
