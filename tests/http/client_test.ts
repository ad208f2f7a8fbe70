import assert from "node:assert/strict";
import { Http1Error, Http1Pool } from "../../lib/http/client.ts";

const te = new TextEncoder();
const td = new TextDecoder();

/**
 * A raw TCP server: for each request it reads up to the end of the request
 * (head + content-length body) and lets the test write any bytes back.
 */
function rawServer(
  answer: (conn: Deno.TcpConn, request: string, n: number) => Promise<void>,
  onAccept?: (conn: Deno.TcpConn, index: number) => Promise<void>,
) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let connections = 0;
  const conns = new Set<Deno.TcpConn>();
  const serving = (async () => {
    for await (const conn of listener) {
      const index = connections++;
      conns.add(conn);
      (async () => {
        await onAccept?.(conn, index).catch(() => {});
        const buf = new Uint8Array(65536);
        let pending = "";
        let n = 0;
        try {
          for (;;) {
            const r = await conn.read(buf);
            if (r === null) break;
            pending += td.decode(buf.subarray(0, r));
            for (;;) {
              const end = pending.indexOf("\r\n\r\n");
              if (end === -1) break;
              const len = Number(/content-length: (\d+)/i.exec(pending.slice(0, end))?.[1] ?? 0);
              if (pending.length < end + 4 + len) break;
              const req = pending.slice(0, end + 4 + len);
              pending = pending.slice(end + 4 + len);
              await answer(conn, req, n++);
            }
          }
        } catch { /* closed */ }
        conns.delete(conn);
        try {
          conn.close();
        } catch { /* closed */ }
      })();
    }
  })();
  return {
    url: `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    get connections() {
      return connections;
    },
    async [Symbol.asyncDispose]() {
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch { /* closed */ }
      }
      await serving.catch(() => {});
    },
  };
}

const write = (conn: Deno.TcpConn, s: string | Uint8Array) =>
  conn.write(typeof s === "string" ? te.encode(s) : s);

Deno.test("Http1Pool sends the request once and reuses the connection", async () => {
  const seen: string[] = [];
  await using server = rawServer(async (conn, req) => {
    seen.push(req);
    await write(conn, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello");
  });
  const pool = new Http1Pool(server.url);
  try {
    for (let i = 0; i < 3; i++) {
      const res = await pool.request("POST", "/p?q=1", { "x-a": "1" }, te.encode("{}"));
      assert.equal(res.status, 200);
      assert.equal(td.decode(res.body), "hello");
      assert.deepEqual(res.headers, [["content-length", "5"], ["content-type", "text/plain"]]);
    }
    assert.equal(server.connections, 1);
    assert.equal(
      seen[0],
      `POST /p?q=1 HTTP/1.1\r\nhost: ${server.url.slice(7)}\r\nx-a: 1\r\ncontent-length: 2\r\n\r\n{}`,
    );
  } finally {
    pool.close();
  }
});

Deno.test("Http1Pool reads chunked bodies with extensions and trailers", async () => {
  await using server = rawServer(async (conn) => {
    await write(conn, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n");
    await new Promise((r) => setTimeout(r, 5));
    await write(conn, "A\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\n");
  });
  const pool = new Http1Pool(server.url);
  try {
    const a = await pool.request("POST", "/", {}, new Uint8Array());
    assert.equal(td.decode(a.body), "abc0123456789");
    const b = await pool.request("POST", "/", {}, new Uint8Array());
    assert.equal(td.decode(b.body), "abc0123456789");
    assert.equal(server.connections, 1);
  } finally {
    pool.close();
  }
});

Deno.test("Http1Pool reads a close-delimited body and does not reuse that connection", async () => {
  await using server = rawServer(async (conn) => {
    await write(conn, "HTTP/1.1 200 OK\r\n\r\nuntil close");
    conn.close();
  });
  const pool = new Http1Pool(server.url);
  try {
    assert.equal(td.decode((await pool.request("POST", "/", {}, new Uint8Array())).body), "until close");
    assert.equal(td.decode((await pool.request("POST", "/", {}, new Uint8Array())).body), "until close");
    assert.equal(server.connections, 2);
    assert.equal(pool.openConnections, 0);
  } finally {
    pool.close();
  }
});

Deno.test("Http1Pool drops an idle connection the server closed and uses a new one", async () => {
  await using server = rawServer(async (conn, _req, n) => {
    if (n === 0) {
      await write(conn, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
      conn.close(); // the server drops the idle connection
    } else {
      await write(conn, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    }
  });
  const pool = new Http1Pool(server.url);
  try {
    await pool.request("POST", "/", {}, new Uint8Array());
    await new Promise((r) => setTimeout(r, 20));
    const res = await pool.request("POST", "/", {}, new Uint8Array());
    assert.equal(td.decode(res.body), "ok");
    assert.equal(server.connections, 2);
  } finally {
    pool.close();
  }
});

Deno.test("Http1Pool does not retry a response cut off mid-body", async () => {
  let requests = 0;
  await using server = rawServer(async (conn) => {
    requests++;
    await write(conn, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
    conn.close();
  });
  const pool = new Http1Pool(server.url);
  try {
    await assert.rejects(pool.request("POST", "/", {}, new Uint8Array()), (err: unknown) => {
      assert.ok(err instanceof Http1Error);
      assert.equal(err.phase, "receive");
      assert.ok(err.received > 0);
      assert.match(err.message, /closed 7 bytes before the end/);
      return true;
    });
    assert.equal(requests, 1);
  } finally {
    pool.close();
  }
});

Deno.test("Http1Pool rejects garbage, bad lengths and refused connections with Http1Error", async () => {
  const cases: [string, RegExp][] = [
    ["garbage\r\n\r\n", /HTTP\/1\.x status line/],
    ["HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", /invalid Content-Length/],
    ["HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", /invalid Content-Length/],
    ["HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", /unsupported Transfer-Encoding/],
    ["HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", /invalid chunk size/],
    ["HTTP/1.1 200 OK\r\nbad header line\r\n\r\n", /malformed header line/],
  ];
  for (const [raw, pattern] of cases) {
    await using server = rawServer(async (conn) => {
      await write(conn, raw);
      conn.close();
    });
    const pool = new Http1Pool(server.url);
    try {
      await assert.rejects(pool.request("POST", "/", {}, new Uint8Array()), pattern, raw);
    } finally {
      pool.close();
    }
  }
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const pool = new Http1Pool(`http://127.0.0.1:${port}`);
  await assert.rejects(pool.request("POST", "/", {}, new Uint8Array()), (err: unknown) => {
    assert.ok(err instanceof Http1Error);
    assert.equal(err.phase, "connect");
    return true;
  });
});

Deno.test("Http1Pool closes the connection when the signal aborts", async () => {
  await using server = rawServer(() => new Promise(() => {})); // never answers
  const pool = new Http1Pool(server.url);
  const controller = new AbortController();
  const pending = pool.request("POST", "/", {}, new Uint8Array(), controller.signal);
  await new Promise((r) => setTimeout(r, 20));
  controller.abort(new Error("gave up"));
  await assert.rejects(pending, /gave up/);
  assert.equal(pool.openConnections, 0);
  pool.close();
});

Deno.test("Http1Pool reads a large body that spans many reads", async () => {
  const big = new Uint8Array(3 * 1024 * 1024).map((_, i) => i % 251);
  await using server = rawServer(async (conn) => {
    await write(conn, `HTTP/1.1 200 OK\r\nContent-Length: ${big.length}\r\n\r\n`);
    let o = 0;
    while (o < big.length) o += await conn.write(big.subarray(o, o + 100_000));
  });
  const pool = new Http1Pool(server.url);
  try {
    const res = await pool.request("POST", "/", {}, new Uint8Array());
    assert.equal(res.body.length, big.length);
    assert.deepEqual(res.body, big);
  } finally {
    pool.close();
  }
});

Deno.test("Http1Pool never hands a later request the stray bytes an upstream sent after a response", async () => {
  await using server = rawServer(async (conn, req) => {
    const who = /x-who: (\w+)/.exec(req)?.[1];
    await write(conn, `HTTP/1.1 200 OK\r\nContent-Length: ${who!.length}\r\n\r\n${who}`);
    if (who === "alice") await write(conn, "HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\ninjected");
  });
  const pool = new Http1Pool(server.url);
  try {
    for (const who of ["alice", "bob", "carol"]) {
      await new Promise((r) => setTimeout(r, 20));
      const res = await pool.request("POST", "/", { "x-who": who }, new Uint8Array());
      assert.equal(td.decode(res.body), who);
    }
  } finally {
    pool.close();
  }
});

Deno.test("Http1Pool does not send a request again once the server may have received it", async () => {
  let received = 0;
  await using server = rawServer(async (conn, _req, n) => {
    received++;
    if (n === 0) return void await write(conn, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    conn.close(); // "ran" the second request, then dropped the connection without an answer
  });
  const pool = new Http1Pool(server.url);
  try {
    await pool.request("POST", "/", {}, new Uint8Array());
    await assert.rejects(pool.request("POST", "/", {}, new Uint8Array()), Http1Error);
    assert.equal(received, 2);
  } finally {
    pool.close();
  }
});

Deno.test("Http1Pool gives up when the signal aborts while connecting", async () => {
  const controller = new AbortController();
  controller.abort(new Error("too late"));
  const pool = new Http1Pool("http://127.0.0.1:9");
  await assert.rejects(pool.request("POST", "/", {}, new Uint8Array(), controller.signal), /too late/);
  assert.equal(pool.openConnections, 0);
});

/** A server that numbers its connections and answers each request with `{connection}/{request on it}`. */
function numberingServer() {
  const indexes = new WeakMap<Deno.Conn, number>();
  return rawServer(async (conn, _req, n) => {
    const answer = `${indexes.get(conn)}/${n}`;
    await write(conn, `HTTP/1.1 200 OK\r\nContent-Length: ${answer.length}\r\n\r\n${answer}`);
  }, (conn, index) => {
    indexes.set(conn, index);
    return Promise.resolve();
  });
}

Deno.test("Http1Pool with a spare sends every request on a connection that carried nothing before", async () => {
  await using server = numberingServer();
  const pool = new Http1Pool(server.url, { maxIdle: 0, spare: true });
  const answers: string[] = [];
  try {
    for (let i = 0; i < 4; i++) {
      answers.push(td.decode((await pool.request("POST", "/", {}, new Uint8Array())).body));
    }
  } finally {
    pool.close();
  }
  // Each answer is the first request on its connection, and no connection served two.
  assert.equal(answers.every((a) => a.endsWith("/0")), true);
  assert.equal(new Set(answers).size, 4);
  assert.equal(pool.openConnections, 0);
});

Deno.test("Http1Pool discards a spare the server wrote to or closed before it was used", async () => {
  let spareWritten: () => void = () => {};
  const written = new Promise<void>((resolve) => spareWritten = resolve);
  // The second connection is the first spare: the server sends it an answer nobody asked for, and closes it.
  await using server = rawServer(async (conn, req) => {
    const who = /x-who: (\w+)/.exec(req)?.[1]!;
    await write(conn, `HTTP/1.1 200 OK\r\nContent-Length: ${who.length}\r\n\r\n${who}`);
  }, async (conn, index) => {
    if (index !== 1) return;
    await write(conn, "HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\ninjected");
    conn.close();
    spareWritten();
  });
  const pool = new Http1Pool(server.url, { maxIdle: 0, spare: true });
  try {
    assert.equal(
      td.decode((await pool.request("POST", "/", { "x-who": "alice" }, new Uint8Array())).body),
      "alice",
    );
    await written;
    // Let the spare's parked read see the bytes and the close (delivery on loopback, not a timing assertion).
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(
      td.decode((await pool.request("POST", "/", { "x-who": "bob" }, new Uint8Array())).body),
      "bob",
    );
  } finally {
    pool.close();
  }
});
