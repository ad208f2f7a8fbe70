import assert from "node:assert/strict";
import { parseHeyOutput, parseWrkDuration, parseWrkOutput, wrkScript } from "../../bench/load.ts";
import { descendants, helpFlags, lrpConfig, parseProcStat } from "../../bench/procs.ts";
import {
  addRatios,
  cpuUsPerRequest,
  LARGE_BODY,
  makeCell,
  median,
  type Sample,
  SUMMARY_HEADER,
  summaryRows,
  summaryTable,
  verdicts,
} from "../../bench/report.ts";
import { FULL_POINTS, LIGHT_POINTS, parseOptions } from "../../bench/run.ts";
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

// A real /proc/PID/stat line, with a command name holding a space and a parenthesis.
const STAT = "4321 (deno (main) x) S 4300 4321 4592 0 -1 4194304 96 0 0 0 1234 567 89 10 20 0 9 0 51460 " +
  "3133440 358 18446744073709551615 94724398391296 94724398411177 140720853562112 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0";

Deno.test("parseProcStat() counts fields after the last parenthesis: utime+stime and cutime+cstime", () => {
  assert.deepEqual(parseProcStat(STAT), { pid: 4321, ppid: 4300, ticks: 1234 + 567, childTicks: 89 + 10 });
  assert.throws(() => parseProcStat("4321 (deno) S 1"), TypeError);
});

Deno.test("descendants() collects a process and its children's children, not its siblings", () => {
  const p = (pid: number, ppid: number) => ({ pid, ppid, ticks: 0, childTicks: 0 });
  const all = [p(1, 0), p(10, 1), p(11, 10), p(12, 10), p(13, 11), p(20, 1)];
  assert.deepEqual(descendants(10, all).map((x) => x.pid), [10, 11, 12, 13]);
  assert.deepEqual(descendants(99, all), []);
});

Deno.test("cpuUsPerRequest() spreads the tick delta over the completed requests, given enough of them", () => {
  // 250 ticks at 100 per second = 2.5 s of CPU over 10,000 requests.
  assert.equal(cpuUsPerRequest(1000, 1250, 100, 10_000, 64), 250);
  assert.deepEqual(
    [
      cpuUsPerRequest(undefined, 5, 100, 1, 1),
      cpuUsPerRequest(5, 9, 100, 0, 1),
      cpuUsPerRequest(9, 5, 100, 1, 1),
    ],
    [undefined, undefined, undefined],
  );
  // 639 requests over 64 connections: in-flight requests at the edges would skew it; 640 is enough.
  assert.deepEqual([cpuUsPerRequest(0, 64, 100, 639, 64), cpuUsPerRequest(0, 64, 100, 640, 64)], [
    undefined,
    1000,
  ]);
});

Deno.test("helpFlags() lists the long flags of a --help text, so absent settings stay absent", () => {
  const help = "Options:\n  --host <value>   address\n  --trust-forwarded-host  route\n  -h, --help  show";
  const flags = helpFlags(help);
  assert.deepEqual([...flags].sort(), ["--help", "--host", "--trust-forwarded-host"]);
  assert.equal(flags.has("--workers"), false);
});

Deno.test("lrpConfig() writes local, aws and functions rules", () => {
  assert.equal(
    lrpConfig(8080, {
      local: { hostname: "l.bench", endpoint: "http://127.0.0.1:9" },
      functions: [{ hostname: "f.bench", code: "/tmp/fn", concurrency: 4 }],
    }),
    "host: 127.0.0.1\nport: 8080\nlocal:\n  - hostname: l.bench\n    endpoint: http://127.0.0.1:9\n" +
      'functions:\n  - hostname: f.bench\n    runtime: nodejs\n    handler: index.handler\n    code: "/tmp/fn"\n' +
      "    concurrency: 4\n",
  );
});

Deno.test("lrpConfig() writes a routed aws rule as an aws entry with its routes", () => {
  assert.equal(
    lrpConfig(8080, {
      aws: { hostname: "a.bench", function_name: "fn" },
      routed: { hostname: "r.bench", function_name: "fn", routes: ["GET /a/{id}", "ANY /{proxy+}"] },
    }),
    "host: 127.0.0.1\nport: 8080\naws:\n  - hostname: a.bench\n    function_name: fn\n" +
      '  - hostname: r.bench\n    function_name: fn\n    routes: ["GET /a/{id}","ANY /{proxy+}"]\n',
  );
});

Deno.test("parseOptions() runs 3 rounds of 3 s, 1 of 1 s with --quick, and refuses unknown flags", () => {
  const full = parseOptions([]);
  const quick = parseOptions(["--quick"]);
  assert.deepEqual([full.rounds, full.durationS, quick.rounds, quick.durationS], [3, 3, 1, 1]);
  assert.deepEqual(parseOptions(["--rounds", "5", "--duration", "2"]).rounds, 5);
  assert.throws(() => parseOptions(["--fast"]), RangeError);
  assert.deepEqual(LIGHT_POINTS, FULL_POINTS.slice(0, 2));
});

const sample = (rps: number, p50Us: number, extra: Partial<Sample> = {}): Sample => ({
  rps,
  p50Us,
  p99Us: p50Us * 4,
  requests: rps * 3,
  non2xx: 0,
  socketErrors: 0,
  ...extra,
});

function benchCells() {
  const cells = [
    makeCell("nginx", 1, 0, [sample(8000, 85)]),
    makeCell("nginx", 64, 0, [sample(30000, 2000, { cpuUsPerRequest: 24, rssMb: 12, hwmMb: 13 })]),
    makeCell("lean-signed", 64, 0, [sample(18000, 3000, { cpuUsPerRequest: 40 })]),
    makeCell("lrp-aws", 1, 0, [sample(3000, 290), sample(3100, 300), sample(2900, 310)]),
    makeCell("lrp-aws", 64, 0, [
      sample(5000, 12000, { cpuUsPerRequest: 230, rssMb: 150, hwmMb: 165 }),
      sample(5200, 11000, { cpuUsPerRequest: 220, rssMb: 160, hwmMb: 170 }),
      sample(4800, 13000, { cpuUsPerRequest: 240, rssMb: 170, hwmMb: 180, non2xx: 2 }),
    ]),
    makeCell("lrp-aws", 64, LARGE_BODY, [
      sample(300, 180000, { rssMb: 500, hwmMb: 700 }),
      sample(310, 170000, { rssMb: 480, hwmMb: 760 }),
    ]),
  ];
  addRatios(cells);
  return cells;
}

Deno.test("summaryTable() prints one row per system: req/s, × nginx, CPU, p50 at 1 conn, RSS now / peak", () => {
  const rows = summaryRows([
    { name: "nginx", label: "nginx" },
    { name: "lean-signed", label: "lean + SigV4" },
    { name: "missing", label: "never ran" },
    { name: "lrp-aws", label: "**lrp, aws rule**" },
  ], benchCells());
  assert.equal(
    summaryTable(rows),
    [
      SUMMARY_HEADER,
      "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
      "| nginx | 30,000 | 1.00 | 24 | 85 µs | 12 / 13 MB | – | 0 |",
      "| lean + SigV4 | 18,000 | 0.60 | 40 | – | – | – | 0 |",
      // Medians over rounds; RSS at 0 B from the first round, at 1 MB the median VmRSS and the highest VmHWM.
      "| **lrp, aws rule** | 5,000 | 0.17 | 230 | 300 µs | 150 / 165 MB | 490 / 760 MB | 2 |",
    ].join("\n"),
  );
});

Deno.test("verdicts() judge lrp's CPU against the lean proxy and its RSS against the limits", () => {
  const cells = benchCells();
  const list = verdicts(cells, summaryRows([{ name: "lrp-aws", label: "lrp" }], cells), {
    startupLocalMs: 131,
  });
  const byTarget = Object.fromEntries(list.map((v) => [v.target, [v.value, v.pass]]));
  assert.deepEqual(byTarget["64 conns 0 B: lrp-aws CPU/request ≤ 1.25 × lean-signed"], [
    "5.75× (230 vs 40 µs)",
    false,
  ]);
  assert.deepEqual(byTarget["64 conns 0 B: lrp-local CPU/request ≤ 1.25 × lean"], [
    "not measured",
    undefined,
  ]);
  assert.deepEqual(byTarget["64 conns 0 B: lrp-local CPU/request ≤ 1.25 × lean-fresh"], [
    "not measured",
    undefined,
  ]);
  assert.deepEqual(byTarget["1 conn 0 B: lrp-aws p50 ≤ nginx p50 + 60 µs"], ["+215 µs", false]);
  assert.deepEqual(byTarget["lrp peak RSS at 64 conns, 0 B ≤ 100 MB"], ["165.0 MB", false]);
  assert.deepEqual(byTarget["lrp peak RSS at 64 conns, 1 MB ≤ 300 MB"], ["760.0 MB", false]);
  assert.deepEqual(byTarget["start-up to first proxied request, local-only ≤ 150 ms"], ["131 ms", true]);
});
