import assert from "node:assert/strict";
import { parseConfig } from "../../lib/config/parse.ts";

const parse = (text: string, extra: { env?: Record<string, string>; flags?: Record<string, string> } = {}) =>
  parseConfig(text, { source: "lrp.yaml", ...extra });

Deno.test("workers defaults to 1 and takes a count or auto from file, environment and flag", () => {
  assert.equal(parse("").workers, 1);
  assert.equal(parse("workers: 4\n").workers, 4);
  assert.equal(parse("workers: auto\n").workers, "auto");
  assert.equal(parse("workers: 4\n", { env: { LRP_WORKERS: "2" } }).workers, 2);
  assert.equal(parse("", { env: { LRP_WORKERS: "auto" }, flags: { workers: "3" } }).workers, 3);
});

Deno.test("workers refuses zero, fractions, words and more than 256 with the accepted range", () => {
  for (const [raw, shown] of [["0", '"0"'], ["1.5", '"1.5"'], ["many", '"many"'], ["257", '"257"']]) {
    assert.throws(() => parse("", { flags: { workers: raw! } }), {
      name: "ConfigError",
      message: `flag --workers: ${shown} must be auto or a whole number from 1 to 256`,
    });
  }
  assert.throws(() => parse("workers: 0\n"), {
    message: "lrp.yaml:1: workers: 0 must be auto or a whole number from 1 to 256",
  });
});
