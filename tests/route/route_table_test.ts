/**
 * Route keys and route selection: the grammar's refusals, the open
 * questions as decided in docs/routes.md, and a property test comparing the
 * compiled tree with a brute-force reading of the documented priority.
 */
import assert from "node:assert/strict";
import { parseRouteKey, type RouteKey } from "../../lib/route/route_key.ts";
import { compareRanks, pathSegments, rankOf, RouteTable } from "../../lib/route/route_table.ts";
import { decodeHttpApiPath } from "../../lib/route/api_host.ts";

function key(text: string): RouteKey {
  const k = parseRouteKey(text);
  if (typeof k === "string") throw new Error(`${text}: ${k}`);
  return k;
}

function table(keys: string[]) {
  return new RouteTable(keys.map((k) => ({ key: key(k), value: k })));
}

function select(keys: string[], method: string, path: string) {
  const m = table(keys).select(method, pathSegments(path));
  return m && { key: m.route.value, params: m.params };
}

Deno.test("malformed route keys are refused with the reason", () => {
  const cases: [string, string][] = [
    ["GET/pets", 'a route key is "METHOD /path" (one space) or "$default"'],
    ["GET  /pets", 'a route key is "METHOD /path" (one space) or "$default"'],
    ["FETCH /pets", '"FETCH" is not a method (known: ANY, GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS)'],
    ["GET pets", "the path must start with /"],
    ["GET /pets/", "the path must not end with / (API Gateway refuses it)"],
    ["GET /a//b", "the path has an empty segment (//)"],
    ["GET /{proxy+}/x", "the greedy variable {proxy+} must be the last segment"],
    ["GET /res{id}", '"res{id}": a path variable must be a whole segment, such as /{id}'],
    ["GET /{}", "{} is not a path variable such as {id} or {proxy+}"],
    ["GET /{id}/{id}", "the path variable {id} is used twice"],
    ["GET /a b", 'a route key is "METHOD /path" (one space) or "$default"'],
  ];
  for (const [text, why] of cases) assert.equal(parseRouteKey(text), why, text);
  assert.equal(key("get /pets").key, "GET /pets", "the method is upper-cased");
  assert.deepEqual(key("ANY /").segments, []);
});

Deno.test("static beats variable, variable beats greedy, full match beats greedy, $default last", () => {
  const keys = ["GET /pets/dog/1", "GET /pets/dog/{id}", "GET /pets/{proxy+}", "ANY /{proxy+}", "$default"];
  assert.deepEqual(select(keys, "GET", "/pets/dog/1"), { key: "GET /pets/dog/1", params: undefined });
  assert.deepEqual(select(keys, "GET", "/pets/dog/2"), { key: "GET /pets/dog/{id}", params: { id: "2" } });
  assert.deepEqual(select(keys, "GET", "/pets/cat/1"), {
    key: "GET /pets/{proxy+}",
    params: { proxy: "cat/1" },
  });
  assert.deepEqual(select(keys, "POST", "/test/5"), { key: "ANY /{proxy+}", params: { proxy: "test/5" } });
  assert.deepEqual(select(["GET /a/{x}/c", "GET /a/{proxy+}"], "GET", "/a/b/c")?.key, "GET /a/{x}/c");
  assert.deepEqual(select(["GET /{a}/{b}", "GET /x/{proxy+}"], "GET", "/x/y")?.key, "GET /{a}/{b}");
});

Deno.test("ANY takes only the methods its path does not name", () => {
  const keys = ["GET /a", "ANY /a", "ANY /{proxy+}"];
  assert.equal(select(keys, "GET", "/a")?.key, "GET /a");
  assert.equal(select(keys, "DELETE", "/a")?.key, "ANY /a");
  assert.equal(select(["GET /a", "POST /{x}"], "POST", "/a")?.key, "POST /{x}", "another path may serve it");
  assert.equal(select(["GET /a"], "POST", "/a"), undefined);
});

Deno.test("open questions: ANY exact beats a method's greedy; leftmost static wins mixed specificity", () => {
  assert.equal(select(["ANY /a/b", "GET /a/{proxy+}"], "GET", "/a/b")?.key, "ANY /a/b");
  assert.equal(select(["GET /{x}/b", "GET /a/{y}"], "GET", "/a/b")?.key, "GET /a/{y}");
});

Deno.test("open questions: a greedy variable does not catch /, and GET does not serve HEAD", () => {
  assert.equal(select(["ANY /{proxy+}"], "GET", "/"), undefined);
  assert.equal(select(["ANY /{proxy+}", "$default"], "GET", "/")?.key, "$default");
  assert.equal(select(["GET /pets"], "HEAD", "/pets"), undefined);
  assert.equal(select(["GET /pets", "ANY /pets"], "HEAD", "/pets")?.key, "ANY /pets");
});

Deno.test("one trailing slash is ignored; a greedy value keeps inner slashes", () => {
  assert.deepEqual(pathSegments("/"), []);
  assert.deepEqual(pathSegments("/a/"), ["a"]);
  assert.deepEqual(pathSegments("/a//"), ["a", ""]);
  assert.deepEqual(select(["GET /f/{p+}"], "GET", "/f/x//y/")?.params, { p: "x//y" });
  assert.equal(select(["GET /a/{x}"], "GET", "/a//"), undefined, "an empty segment is no variable");
});

Deno.test("an HTTP API decodes the path twice and cuts it at a decoded ?", () => {
  assert.equal(decodeHttpApiPath("/capture/space%20value"), "/capture/space value");
  assert.equal(decodeHttpApiPath("/a%2Fb"), "/a/b");
  assert.equal(decodeHttpApiPath("/a%252Fb"), "/a/b");
  assert.equal(decodeHttpApiPath("/a%23b"), "/a#b");
  assert.equal(decodeHttpApiPath("/a%3Fb"), "/a");
  assert.equal(decodeHttpApiPath("/caf%C3%A9"), "/café");
  assert.equal(decodeHttpApiPath("/a%25"), undefined);
  assert.equal(decodeHttpApiPath("/a%zz"), undefined);
});

// --- property test --------------------------------------------------------------------------------

/** A small seeded generator (mulberry32), so a failure names a reproducible seed. */
function rng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const METHODS = ["GET", "POST", "ANY"];
const STATICS = ["a", "b", "c"];

function randomKey(r: () => number): string {
  if (r() < 0.05) return "$default";
  const len = Math.floor(r() * 4);
  const segs: string[] = [];
  for (let i = 0; i < len; i++) {
    const x = r();
    if (i === len - 1 && x < 0.2) segs.push(`{g${i}+}`);
    else if (x < 0.45) segs.push(`{v${i}}`);
    else segs.push(STATICS[Math.floor(r() * STATICS.length)]!);
  }
  return `${METHODS[Math.floor(r() * METHODS.length)]} /${segs.join("/")}`;
}

function randomPath(r: () => number): string {
  const len = Math.floor(r() * 5);
  const segs: string[] = [];
  for (let i = 0; i < len; i++) segs.push(r() < 0.08 ? "" : [...STATICS, "d"][Math.floor(r() * 4)]!);
  return "/" + segs.join("/") + (len > 0 && r() < 0.2 ? "/" : "");
}

/** The documented priority, read literally: every route that matches, the smallest rank wins. */
function bruteForce(keys: RouteKey[], method: string, segs: string[]): RouteKey | undefined {
  const matches = keys.filter((k) => {
    if (k.isDefault) return true;
    const methodOk = k.method === method ||
      (k.method === "ANY" && !keys.some((o) => o.shape === k.shape && o.method === method));
    if (!methodOk) return false;
    const n = k.segments.length;
    if (k.greedy ? segs.length < n : segs.length !== n) return false;
    return k.segments.every((s, i) =>
      s.kind === "static" ? segs[i] === s.text : s.kind === "param" ? segs[i] !== "" : true
    );
  });
  return matches.sort((x, y) => compareRanks(rankOf(x), rankOf(y)))[0];
}

Deno.test("property: the compiled tree selects what a brute-force reading of the priority selects", () => {
  let checked = 0;
  for (let seed = 1; seed <= 400; seed++) {
    const r = rng(seed);
    const keys: RouteKey[] = [];
    const seen = new Set<string>();
    const count = 1 + Math.floor(r() * 12);
    for (let i = 0; i < count; i++) {
      const k = key(randomKey(r));
      const id = k.isDefault ? "$default" : `${k.method} ${k.shape}`;
      if (!seen.has(id)) {
        seen.add(id);
        keys.push(k);
      }
    }
    const tree = new RouteTable(keys.map((k) => ({ key: k, value: k })));
    for (let j = 0; j < 40; j++) {
      const path = randomPath(r);
      const method = ["GET", "POST", "PUT"][Math.floor(r() * 3)]!;
      const segs = pathSegments(path);
      const want = bruteForce(keys, method, segs);
      const got = tree.select(method, segs);
      assert.equal(
        got?.route.key.key,
        want?.key,
        `seed ${seed}: ${method} ${path} over ${keys.map((k) => k.key).join(", ")}`,
      );
      checked++;
    }
  }
  assert.equal(checked, 16_000);
});
