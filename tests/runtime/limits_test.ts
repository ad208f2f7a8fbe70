/** `confinedCommand`: a runtime's own process group, and its memory bound where the runtime runs under one. */
import assert from "node:assert/strict";
import { confinedCommand } from "../../lib/runtime/limits.ts";

Deno.test("confinedCommand() puts setsid first and RLIMIT_DATA at memory + 128 MB for node, python and provided, not deno", () => {
  const tools = { setsid: true, prlimit: "/usr/bin/prlimit" };
  const limit = ["/usr/bin/prlimit", `--data=${(256 + 128) * 1024 * 1024}`, "--"];
  assert.deepEqual(confinedCommand({ runtime: "nodejs", memoryMb: 256 }, ["node", "c.mjs"], tools), [
    "setsid",
    ...limit,
    "node",
    "c.mjs",
  ]);
  assert.deepEqual(confinedCommand({ runtime: "python", memoryMb: 256 }, ["python3"], tools), [
    "setsid",
    ...limit,
    "python3",
  ]);
  assert.deepEqual(confinedCommand({ runtime: "provided", memoryMb: 256 }, ["/c/bootstrap"], tools), [
    "setsid",
    ...limit,
    "/c/bootstrap",
  ]);
  assert.deepEqual(confinedCommand({ runtime: "deno", memoryMb: 256 }, ["deno", "run"], tools), [
    "setsid",
    "deno",
    "run",
  ]);
  assert.deepEqual(
    confinedCommand({ runtime: "nodejs", memoryMb: 256 }, ["node"], { setsid: false, prlimit: undefined }),
    ["node"],
  );
});
