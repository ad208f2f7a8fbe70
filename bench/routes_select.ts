/**
 * The cost of choosing an API Gateway route: 1,000 routes on one host
 * (999 `GET /r{i}/items/{id}`, one `ANY /{proxy+}`), selected for a mix of
 * requests (a variable route, the greedy fallback, a static miss), as the
 * handler does it per request (`HostApis.select`, path parameters included).
 *
 * ```sh
 * deno run bench/routes_select.ts
 * ```
 *
 * @module
 */

import { parseConfig } from "../lib/config/parse.ts";
import { HostApis } from "../lib/route/api_host.ts";

const keys = [...Array.from({ length: 999 }, (_, i) => `GET /r${i}/items/{id}`), "ANY /{proxy+}"];
const config = parseConfig(
  `aws:\n  - hostname: api.bench\n    function_name: fn\n    routes: ${JSON.stringify(keys)}\n`,
  { source: "bench" },
);
const apis = new HostApis(config.rules.map((rule) => ({ rule, value: rule })));
const requests: [string, string][] = [
  ["GET", "/r777/items/42"],
  ["GET", "/r3/items/x%20y"],
  ["POST", "/r500/items/1"],
  ["GET", "/nothing/here/at/all"],
];

/** Median µs per selection over `rounds` rounds of `n` selections. */
function measure(n: number, rounds: number): number {
  const perRound: number[] = [];
  let sink = 0;
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      const [method, path] = requests[i & 3]!;
      const choice = apis.select(method, path);
      if (choice.route) sink += choice.path.length;
    }
    perRound.push(((performance.now() - t0) * 1000) / n);
  }
  if (sink === 0) throw new Error("nothing selected");
  return perRound.sort((a, b) => a - b)[Math.floor(rounds / 2)]!;
}

measure(200_000, 3); // warm up: let the JIT compile the tree walk
const us = measure(500_000, 7);
console.log(`route selection, 1,000 routes on one host: ${us.toFixed(3)} µs/request (median of 7 rounds)`);
