/**
 * Forwarded headers from trusted proxies are read from the right: a client
 * can write whatever it likes to the left of what the nearest trusted proxy
 * appended, and none of it picks the route.
 */
import assert from "node:assert/strict";
import { type ForwardTrust, parseCidr, parseForwarded, routingHost } from "../../lib/route/forwarded.ts";
import { fakeRie } from "../fakes/rie.ts";
import { localRule, serveLrp } from "../helpers/in_process.ts";
import { rawHttp } from "../helpers/socket.ts";

const PROXY = "10.0.0.1";
const trust: ForwardTrust = { all: false, proxies: ["10.0.0.0/8"].map(parseCidr) };
const route = (headers: Record<string, string>, peer = PROXY, t = trust) =>
  routingHost(new Headers({ host: "lb.test", ...headers }), peer, t);

Deno.test("a client's Forwarded host= in front of the proxy's own element is ignored", () => {
  assert.equal(route({ forwarded: "host=evil.test, for=198.51.100.7;host=real.test" }), "real.test");
  // The client even claims to be a trusted proxy: its claim sits left of an untrusted hop.
  assert.equal(
    route({ forwarded: "for=10.0.0.9;host=evil.test, for=198.51.100.7;host=real.test" }),
    "real.test",
  );
});

Deno.test("a quoted for= holding ',host=' or ';host=' does not split the element", () => {
  assert.equal(route({ forwarded: 'for="198.51.100.7,host=evil.test";host=real.test' }), "real.test");
  assert.equal(route({ forwarded: 'for="_x;host=evil.test";host="real.test:8080"' }), "real.test");
  assert.equal(route({ forwarded: 'for="a\\"b,host=evil.test";host=real.test' }), "real.test");
});

Deno.test("walking left passes only trusted hops: the outermost trusted proxy's host wins", () => {
  assert.equal(
    route({ forwarded: "for=198.51.100.7;host=public.test, for=10.0.0.2;host=internal.test" }),
    "public.test",
  );
  assert.equal(
    route({ forwarded: 'for="[2001:db8::1]:4711";host=public.test, for="10.0.0.2:5000";host=internal.test' }),
    "public.test",
  );
  // The outermost trusted element has no host=: the next one inwards that has one.
  assert.equal(route({ forwarded: "for=198.51.100.7, for=10.0.0.2;host=internal.test" }), "internal.test");
});

Deno.test("X-Forwarded-Host is read from the right, walking left over trusted X-Forwarded-For hops", () => {
  assert.equal(
    route({ "x-forwarded-host": "evil.test, real.test", "x-forwarded-for": "198.51.100.7" }),
    "real.test",
  );
  assert.equal(route({ "x-forwarded-host": "evil.test, real.test" }), "real.test");
  assert.equal(
    route({ "x-forwarded-host": "public.test, internal.test", "x-forwarded-for": "198.51.100.7, 10.0.0.2" }),
    "public.test",
  );
  assert.equal(
    route({
      "x-forwarded-host": "evil.test, public.test, internal.test",
      "x-forwarded-for": "10.9.9.9, 198.51.100.7, 10.0.0.2",
    }),
    "public.test",
  );
  // Every hop trusted (trust_forwarded_host): the leftmost value.
  assert.equal(
    route({ "x-forwarded-host": "a.test, b.test" }, "192.0.2.1", { all: true, proxies: [] }),
    "a.test",
  );
});

Deno.test("with both headers X-Forwarded-Host wins; a malformed Forwarded is not read at all", () => {
  assert.equal(route({ forwarded: "host=evil.test", "x-forwarded-host": "real.test" }), "real.test");
  assert.equal(route({ forwarded: 'for="unterminated, for=10.0.0.2;host=evil.test' }), "lb.test");
  assert.equal(route({ forwarded: "host=evil.test" }, "198.51.100.7"), "lb.test");
});

Deno.test("parseForwarded() follows RFC 7239: quoted strings, escapes, case-insensitive names", () => {
  assert.deepEqual(parseForwarded('For="[2001:db8::1]:80";HOST="a,b;c=d", for=x;proto=https'), [
    { for: "[2001:db8::1]:80", host: "a,b;c=d" },
    { for: "x", proto: "https" },
  ]);
  assert.deepEqual(parseForwarded('for="a\\\\b\\"c"'), [{ for: 'a\\b"c' }]);
  assert.equal(parseForwarded("for"), undefined);
  assert.equal(parseForwarded('for="x'), undefined);
  assert.equal(parseForwarded("for=a b"), undefined);
});

Deno.test("two Forwarded header lines from a trusted proxy: the client's line before the proxy's is ignored", async () => {
  await using rie = fakeRie((e) => ({
    statusCode: 200,
    body: String((e.headers as Record<string, string>).host),
  }));
  await using lrp = serveLrp(
    `trusted_proxies: [127.0.0.1]\nlocal:\n${localRule("real.test", rie.url)}${
      localRule("evil.test", rie.url)
    }`,
  );
  const res = await rawHttp(
    lrp.port,
    "GET / HTTP/1.1\r\nHost: lb.test\r\nForwarded: host=evil.test\r\nForwarded: for=198.51.100.7;host=real.test",
  );
  assert.equal(res.status, 200);
  const line = lrp.lines.find((l) => l.msg === "request")!;
  assert.equal(line.host, "real.test");
});
