import assert from "node:assert/strict";
import { parseHeyOutput, parseWrkDuration, parseWrkOutput, wrkScript } from "../../bench/load.ts";
import { median } from "../../bench/report.ts";
import { MAX_RSS_GROWTH, parseSoakArgs, rssGrowth } from "../../bench/soak.ts";

const WRK_TEXT = `Running 1s test @ http://127.0.0.1:18080/
  1 threads and 1 connections
  Latency Distribution
     50%   77.00us
     75%   89.00us
     90%  110.00us
     99%    1.70ms
  12898 requests in 1.10s, 2.19MB read
  Socket errors: connect 0, read 2, write 0, timeout 3
  Non-2xx or 3xx responses: 7
Requests/sec:  11730.04
Transfer/sec:      1.99MB
`;

Deno.test("parseWrkDuration() converts us, ms, s and m to microseconds", () => {
  assert.deepEqual(
    ["77.00us", "1.70ms", "2.01s", "1.50m"].map(parseWrkDuration),
    [77, 1700, 2_010_000, 90_000_000],
  );
});

Deno.test("parseWrkOutput() reads the --latency text when the done() line is absent", () => {
  assert.deepEqual(parseWrkOutput(WRK_TEXT), {
    rps: 11730.04,
    p50Us: 77,
    p99Us: 1700,
    requests: 12898,
    non2xx: 7,
    socketErrors: 5,
  });
});

Deno.test("parseWrkOutput() prefers the exact figures of the done() line", () => {
  const line = 'LRP_BENCH {"requests":2000,"duration_us":2000000,"p50_us":81,"p99_us":1234,' +
    '"connect":1,"read":0,"write":0,"timeout":0,"status":4}';
  assert.deepEqual(parseWrkOutput(`${WRK_TEXT}\n${line}\n`), {
    rps: 1000,
    p50Us: 81,
    p99Us: 1234,
    requests: 2000,
    non2xx: 4,
    socketErrors: 1,
  });
});

Deno.test("parseHeyOutput() converts seconds and counts non-2xx answers", () => {
  const text = `Summary:\n  Requests/sec:\t950.5\n\nLatency distribution:\n  10% in 0.0001 secs\n` +
    `  50% in 0.0008 secs\n  99% in 0.0123 secs\n\nStatus code distribution:\n  [200]\t1890 responses\n` +
    `  [503]\t10 responses\n`;
  assert.deepEqual(parseHeyOutput(text), {
    rps: 950.5,
    p50Us: 800,
    p99Us: 12300,
    requests: 1900,
    non2xx: 10,
    socketErrors: 0,
  });
});

Deno.test("wrkScript() sends GET for an empty body and a POST of N bytes otherwise", () => {
  assert.match(wrkScript(0), /wrk\.method = "GET"/);
  assert.match(
    wrkScript(4096),
    /wrk\.method = "POST"\nwrk\.headers\["Content-Type"\] = "application\/octet-stream"\nwrk\.body = string\.rep\("x", 4096\)/,
  );
});

Deno.test("median() takes the middle value, or the mean of the middle two", () => {
  assert.deepEqual([median([3, 1, 2]), median([4, 1, 3, 2]), median([])], [2, 2.5, NaN]);
});

Deno.test("rssGrowth() compares the last RSS sample with the first one from a quarter of the run on", () => {
  const rss = (pairs: [number, number][]) => pairs.map(([atSeconds, mb]) => ({ atSeconds, mb }));
  assert.equal(rssGrowth({ seconds: 60, rss: rss([[0, 50], [5, 198], [15, 200], [60, 220]]) }), 1.1);
  // The leak the soak found: 905 s hold timers kept every call alive.
  assert.ok(rssGrowth({ seconds: 60, rss: rss([[0, 52], [15, 226.9], [60, 397.5]]) }) > MAX_RSS_GROWTH);
});

Deno.test("parseSoakArgs() defaults to 60 s at 64 connections and refuses nonsense", () => {
  assert.deepEqual(parseSoakArgs([]), { seconds: 60, connections: 64 });
  assert.deepEqual(parseSoakArgs(["--seconds", "5", "--connections", "16"]), { seconds: 5, connections: 16 });
  assert.throws(() => parseSoakArgs(["--seconds", "0"]), RangeError);
  assert.throws(() => parseSoakArgs(["--connections", "4"]), RangeError);
});
