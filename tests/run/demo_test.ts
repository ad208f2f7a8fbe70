import assert from "node:assert/strict";
import { DEMO_FILES } from "../../lib/run/demo_handlers.ts";
import { demoRuntime } from "../../lib/run/demo.ts";
import { readDemoFiles } from "../../scripts/gen_demo.ts";
import { type LrpChild, startLrpChild, waitFor } from "../helpers/process.ts";

Deno.test("the demo's embedded handlers are exactly the files of examples/functions/demo/", async () => {
  const files = await readDemoFiles(new URL("../../", import.meta.url));
  assert.deepEqual(Object.keys(files).sort(), [
    "echo.mjs",
    "fail.mjs",
    "hello.mjs",
    "stream.mjs",
    "whoami.mjs",
  ]);
  assert.deepEqual(
    { ...DEMO_FILES },
    files,
    "lib/run/demo_handlers.ts is out of date: run deno run --allow-read --allow-write --allow-run scripts/gen_demo.ts",
  );
});

Deno.test("demoRuntime() picks node when a real node is on PATH, else deno (Deno's node shim does not count)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    assert.equal(demoRuntime({ PATH: "/usr/bin:/bin" }), "nodejs");
    // The `node` Deno puts on the PATH of the programs it runs when none is installed: deno itself.
    await Deno.symlink(Deno.execPath(), `${dir}/node`);
    assert.equal(demoRuntime({ PATH: `${dir}:/usr/bin` }), "deno");
    assert.equal(demoRuntime({ PATH: "/nonexistent" }), "deno");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** The answer to one printed `curl -i` command, run as a user runs it. */
interface CurlAnswer {
  status: string;
  headers: Record<string, string>;
  body: string;
}

async function runCurl(command: string): Promise<CurlAnswer> {
  const out = await new Deno.Command("sh", { args: ["-c", command.replace(/^curl /, "curl -sS ")] }).output();
  const text = new TextDecoder().decode(out.stdout);
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const end = text.indexOf("\r\n\r\n");
  const [status = "", ...lines] = text.slice(0, end).split("\r\n");
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(":");
    const name = line.slice(0, colon).toLowerCase();
    headers[name] = headers[name] === undefined
      ? line.slice(colon + 2)
      : `${headers[name]}, ${line.slice(colon + 2)}`;
  }
  return { status, headers, body: text.slice(end + 4) };
}

/** The flags of `deno task demo` (deno.json), the README's first command: its permissions, not `-A`. */
async function demoTaskFlags(): Promise<string[]> {
  const tasks = JSON.parse(await Deno.readTextFile(new URL("../../deno.json", import.meta.url))).tasks;
  const words = String(tasks.demo).split(" ");
  assert.deepEqual([words[0], words[1], ...words.slice(-2)], ["deno", "run", "main.ts", "demo"]);
  return words.slice(2, -2);
}

/** Starts `deno run <deno task demo's flags> main.ts demo --port 0` and waits for its printed instructions. */
async function startDemo(env: Record<string, string> = {}): Promise<{ demo: LrpChild; printed: string[] }> {
  const demo = await startLrpChild(["demo", "--port", "0"], { env, denoArgs: await demoTaskFlags() });
  await waitFor(
    "the demo's instructions",
    () => demo.stdout.some((l) => l.startsWith("See what each")) || undefined,
  );
  return { demo, printed: [...demo.stdout] };
}

/** The instructions the demo prints, with its port and the folder of the handlers' code. */
function instructions(port: number, runtime: string, code: string): string[] {
  const url = `http://127.0.0.1:${port}`;
  return [
    `lrp demo is running on ${url} — try (Ctrl-C to stop):`,
    "",
    "  # hello.localhost: a structured result with a cookie",
    `  curl -i -H 'Host: hello.localhost' '${url}/hello?name=lrp'`,
    "  # echo.localhost: returns the payload 2.0 event it received",
    `  curl -i -H 'Host: echo.localhost' -H 'Cookie: a=1; b=2' -H 'content-type: application/json' ` +
    `-d '{"json":true}' '${url}/any/path%2Fencoded?x=1&x=2'`,
    "  # stream.localhost: a streaming handler (awslambda.streamifyResponse), passed on as it writes",
    `  curl -i -H 'Host: stream.localhost' -N '${url}/'`,
    "  # fail.localhost: a handler that throws (lrp answers 502)",
    `  curl -i -H 'Host: fail.localhost' '${url}/'`,
    "  # whoami.localhost: its function name, runtime and process (the same warm process answers again)",
    `  curl -i -H 'Host: whoami.localhost' '${url}/?name=lrp'`,
    "",
    `  curl ${url}/healthz`,
    "",
    `Each function runs in ${runtime} processes lrp starts itself (no Docker, no RIE); their code is in ${code}.`,
    `See what each function saw: ${url}/inspect`,
  ];
}

/** Runs every printed command and checks each example's answer; returns the whoami answers. */
async function tryEveryExample(
  demo: LrpChild,
  printed: string[],
  runtime: "node" | "deno",
): Promise<string[]> {
  const code = /their code is in (\/\S+)\.$/.exec(printed.at(-2) ?? "")?.[1] ?? "";
  assert.deepEqual(printed, instructions(demo.port, runtime, code));
  assert.deepEqual(
    (await Array.fromAsync(Deno.readDir(code))).map((e) => e.name).sort(),
    Object.keys(DEMO_FILES),
  );
  const commands = printed.filter((l) => l.startsWith("  curl -i")).map((l) => l.trim());
  const [hello, echo, stream, fail, whoami] = await Promise.all(commands.map(runCurl));

  assert.deepEqual([hello?.status, hello?.headers["set-cookie"], hello?.body], [
    "HTTP/1.1 200 OK",
    "visited=1; Path=/",
    "Hello, lrp! (from a Lambda handler, through lrp)\n",
  ]);

  assert.deepEqual([echo?.status, echo?.headers["content-type"]], ["HTTP/1.1 200 OK", "application/json"]);
  const event = JSON.parse(echo?.body ?? "");
  assert.deepEqual(
    [event.rawPath, event.rawQueryString, event.queryStringParameters, event.cookies, event.body],
    ["/any/path%2Fencoded", "x=1&x=2", { x: "1,2" }, ["a=1", "b=2"], '{"json":true}'],
  );
  assert.deepEqual([event.requestContext.http.method, event.headers.host], ["POST", "echo.localhost"]);

  assert.deepEqual(stream, {
    status: "HTTP/1.1 200 OK",
    headers: {
      "content-type": "text/plain",
      "set-cookie": "streamed=yes",
      date: stream?.headers.date,
      "transfer-encoding": "chunked",
    },
    body: "chunk 1\nchunk 2\nchunk 3\n",
  });

  assert.deepEqual([fail?.status, fail?.headers["x-lrp-error"]], [
    "HTTP/1.1 502 Bad Gateway",
    "function_error",
  ]);
  assert.equal(
    JSON.parse(fail?.body ?? "").message,
    "Cannot use the answer: the function failed with Error (its error and stack trace are in the function's log, " +
      "which is lrp's log for functions rules; error_details: true shows them in this answer)",
  );

  const again = await runCurl(commands[4] ?? "");
  const health = await fetch(`http://127.0.0.1:${demo.port}/healthz`);
  assert.equal(health.status, 200, await health.text());
  const page = await fetch(`http://127.0.0.1:${demo.port}/inspect`);
  assert.deepEqual([page.status, page.headers.get("content-type")], [200, "text/html; charset=utf-8"]);
  await page.body?.cancel();
  return [whoami?.body ?? "", again.body];
}

Deno.test("lrp demo prints a curl command per example, and each answers as its example says (node)", async () => {
  const { demo, printed } = await startDemo();
  await using _ = demo;
  const [first, second] = await tryEveryExample(demo, printed, "node");
  const pid = /^Hello, lrp! \(whoami in node v\d+\.\d+\.\d+, pid (\d+)\)\n$/.exec(first ?? "")?.[1];
  assert.ok(pid, first ?? "");
  assert.equal(second, first, "the warm process answers again");
});

Deno.test("lrp demo runs its examples under deno when node is not installed", async () => {
  // setsid only: no node on PATH (deno adds its own node shim, which the demo does not count).
  const bin = await Deno.makeTempDir();
  try {
    await Deno.symlink("/usr/bin/setsid", `${bin}/setsid`);
    const { demo, printed } = await startDemo({ PATH: bin });
    await using _ = demo;
    const [first] = await tryEveryExample(demo, printed, "deno");
    assert.match(first ?? "", /^Hello, lrp! \(whoami in deno 2\.\d+\.\d+, pid \d+\)\n$/);
  } finally {
    await Deno.remove(bin, { recursive: true });
  }
});

Deno.test("lrp demo removes the folder of its handlers' code when it stops", async () => {
  const { demo, printed } = await startDemo();
  const code = /their code is in (\/\S+)\.$/.exec(printed.at(-2) ?? "")?.[1] ?? "";
  assert.equal((await Deno.stat(code)).isDirectory, true);
  assert.equal((await demo.stop("SIGINT")).code, 0);
  await assert.rejects(Deno.stat(code), Deno.errors.NotFound);
});
