/**
 * The inspector page in a real browser: Debian's chromium (installed by
 * `scripts/install_chromium.sh`, which `.ci/run` calls) driven headless by
 * puppeteer-core, in front of a real lrp child and a fake RIE that keeps
 * every event it receives. Saves a screenshot: to `docs/inspector.png` with
 * `LRP_UPDATE_SCREENSHOT=1` (how the one in the docs was made), else to a
 * temporary file, so a test run leaves the checkout clean.
 *
 * @module
 */

import assert from "node:assert/strict";
import puppeteer from "npm:puppeteer-core@25.16.0";
import { fakeRie } from "../fakes/rie.ts";
import { ROOT, startLrpChild } from "../helpers/process.ts";
import { request } from "../helpers/socket.ts";

const CHROMIUM = "/usr/bin/chromium";
const SECRET = "top-secret-session-value";

function chromiumPath(): string {
  try {
    if (Deno.statSync(CHROMIUM).isFile) return CHROMIUM;
  } catch {
    // Reported below: the test must not pass, nor skip, without a browser.
  }
  throw new Error(`Cannot run the browser test: ${CHROMIUM} is missing; run scripts/install_chromium.sh`);
}

Deno.test("the inspector page shows exchanges live, the exact event sent, redacted cookies, and replays", async () => {
  const executablePath = chromiumPath();
  const received: Record<string, unknown>[] = [];
  await using rie = fakeRie((event) => {
    received.push(event);
    return {
      statusCode: 200,
      headers: { "content-type": "application/json" },
      cookies: ["sid=s3cr3t-sid; Path=/; HttpOnly"],
      body: JSON.stringify({ ok: true, path: event.rawPath }),
    };
  });
  const dir = await Deno.makeTempDir({ prefix: "lrp-inspect-" });
  const profile = `${dir}/chromium-profile`;
  const configPath = `${dir}/lrp.yaml`;
  await Deno.writeTextFile(
    configPath,
    `host: 127.0.0.1\nport: 0\ninspect: true\ninternal_route_prefix: /_lrp\nlocal:\n` +
      `  - hostname: shop.localhost\n    endpoint: ${rie.url}\n` +
      `  - hostname: api.localhost\n    endpoint: ${rie.url}\n`,
  );
  await using lrp = await startLrpChild([configPath]);
  const port = Number(new URL(lrp.url).port);
  const browser = await puppeteer.launch({
    executablePath,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      `--user-data-dir=${profile}`,
    ],
  });
  try {
    const page = await browser.newPage();
    await page.setViewport({ width: 1480, height: 960 });
    await page.goto(`${lrp.url}/_lrp/inspect`);
    await page.waitForSelector("#conn.live");
    const rowCount = () => page.$$eval("#rows tr", (rows) => rows.length);
    // Page-side predicates are strings: they run in the browser, not under Deno's types.
    const waitForRows = (n: number) =>
      page.waitForFunction(`document.querySelectorAll("#rows tr").length === ${n}`);
    const waitForEvent = (text: string) =>
      page.waitForFunction(
        `document.querySelector("#pane-event pre")?.textContent?.includes(${JSON.stringify(text)})`,
      );

    // 1. A request sent after the page opened appears without a reload.
    const order = await request(port, "shop.localhost", "/orders/42?expand=items", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"quantity":3}',
    });
    assert.equal(order.status, 200);
    await waitForRows(1);
    const first = await page.$eval(
      "#rows tr",
      (tr) =>
        [".time", ".method", ".host", ".path", ".route", ".invoker", ".status", ".code"].map((c) =>
          tr.querySelector(c)?.textContent
        ),
    );
    assert.match(first[0]!, /^\d\d:\d\d:\d\d\.\d\d\d$/);
    assert.deepEqual(first.slice(1), [
      "POST",
      "shop.localhost",
      "/orders/42",
      "shop.localhost",
      `local ${rie.url}`,
      "200",
      "",
    ]);

    // 2. The event pane shows exactly the event the function received.
    await page.click("#rows tr");
    await page.waitForSelector("#pane-event pre");
    const shown = await page.$eval("#pane-event pre", (pre) => pre.textContent ?? "");
    assert.equal(received.length, 1);
    assert.deepEqual(JSON.parse(shown), received[0]);

    // 3. A cookie is hidden everywhere on the page, though the function got it.
    await request(port, "api.localhost", "/me", {
      headers: {
        accept: "application/json",
        authorization: `Bearer ${SECRET}`,
        cookie: `session=${SECRET}; theme=dark`,
        "user-agent": "curl/8.5.0",
      },
    });
    await waitForRows(2);
    await page.click("#rows tr:first-child");
    await waitForEvent('"/me"');
    assert.deepEqual(received[1]!.cookies, [`session=${SECRET}`, "theme=dark"]);
    const eventText = await page.$eval("#pane-event pre", (pre) => pre.textContent ?? "");
    assert.deepEqual(JSON.parse(eventText).cookies, ["session=‹redacted›", "theme=‹redacted›"]);
    const pageText = await page.$eval("body", (body) => body.innerText);
    assert.equal(pageText.includes(SECRET), false);
    assert.equal(pageText.includes("s3cr3t-sid"), false);
    assert.equal(pageText.includes("sid=‹redacted›"), true);

    // 4. Replay sends the original event (secret included) again, as a new exchange.
    await page.click("#replay");
    await waitForRows(3);
    assert.equal(received.length, 3);
    assert.deepEqual(received[2], received[1]);
    const replayRow = await page.$eval("#rows tr:first-child .replayed", (span) => span.textContent);
    assert.equal(replayRow, "replay #2");

    // 5. Edit-then-send: the edited event goes out, the hidden cookie put back.
    await page.waitForFunction(`document.querySelector(".title .note")?.textContent === "replay of #2"`);
    await page.click("#replay-edit");
    await page.$eval("#replay-editor", (area) => {
      const t = area as unknown as { value: string };
      const event = JSON.parse(t.value);
      event.rawPath = "/me/edited";
      t.value = JSON.stringify(event, null, 2);
    });
    await page.click("#replay-send");
    await waitForRows(4);
    assert.equal(received[3]!.rawPath, "/me/edited");
    assert.deepEqual(received[3]!.cookies, [`session=${SECRET}`, "theme=dark"]);

    // 6. The text filter narrows the list.
    await page.type("#f-text", "orders");
    await waitForRows(1);
    assert.equal(await rowCount(), 1);
    await page.$eval("#f-text", (input) => {
      (input as unknown as { value: string }).value = "";
      input.dispatchEvent(new Event("input"));
    });
    await waitForRows(4);

    // An unrouted request is listed with its error code.
    assert.equal((await request(port, "nosuch.localhost", "/")).status, 404);
    await waitForRows(5);
    assert.equal(await page.$eval("#rows tr:first-child .code", (td) => td.textContent), "route_not_found");

    // The screenshot for the docs: the cookie request, with its redacted event.
    await page.click("#rows tr:nth-child(4)");
    await waitForEvent('"/me"');
    const shot = Deno.env.get("LRP_UPDATE_SCREENSHOT") === "1"
      ? `${ROOT}docs/inspector.png`
      : await Deno.makeTempFile({ suffix: ".png" });
    await page.screenshot({ path: shot });
    assert.ok((await Deno.stat(shot)).size > 10_000, "the screenshot is an image of the page");
  } finally {
    await browser.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("the inspector at 1400 px: error codes fit their column, a function's timeout is named, 'not reached' only when so, both request ids shown", async () => {
  const executablePath = chromiumPath();
  const dir = await Deno.makeTempDir({ prefix: "lrp-inspect-" });
  const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const closedPort = (closed.addr as Deno.NetAddr).port;
  closed.close();
  const fixtures = new URL("../runtime/fixtures/", import.meta.url).pathname;
  const configPath = `${dir}/lrp.yaml`;
  await Deno.writeTextFile(
    configPath,
    `host: 127.0.0.1\nport: 0\ninspect: true\nlocal:\n` +
      `  - hostname: down.localhost\n    endpoint: http://127.0.0.1:${closedPort}\n` +
      `functions:\n  - hostname: fn.localhost\n    runtime: nodejs\n    handler: index.handler\n` +
      `    code: ${fixtures}node_echo\n    timeout: 1s\n`,
  );
  await using lrp = await startLrpChild([configPath]);
  const port = Number(new URL(lrp.url).port);
  const browser = await puppeteer.launch({
    executablePath,
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", `--user-data-dir=${dir}/profile`],
  });
  try {
    const page = await browser.newPage();
    await page.setViewport({ width: 1400, height: 900 });
    await page.goto(`${lrp.url}/inspect`);
    await page.waitForSelector("#conn.live");
    assert.equal((await request(port, "fn.localhost", "/slow?sleep=5000")).status, 504);
    assert.equal((await request(port, "down.localhost", "/")).status, 502);
    assert.equal((await request(port, "fn.localhost", "/", { method: "TRACE" })).status, 501);
    assert.equal((await request(port, "nosuch.localhost", "/")).status, 404);
    assert.equal((await request(port, "fn.localhost", "/throw")).status, 502);
    await page.waitForFunction(`document.querySelectorAll("#rows tr").length === 5`);

    // Every error code is whole in its cell: nothing cut, nothing under an ellipsis.
    const cells = await page.$$eval(
      "#rows tr .code",
      (tds) =>
        tds.map((td) => [td.textContent, td.scrollWidth <= td.clientWidth, td.getBoundingClientRect().right]),
    );
    assert.deepEqual(cells.map(([code, fits]) => [code, fits]), [
      ["function_error", true],
      ["route_not_found", true],
      ["method_not_implemented", true],
      ["upstream_unreachable", true],
      ["function_timeout", true],
    ]);
    const listRight = await page.$eval("#list", (list) => list.getBoundingClientRect().right);
    for (const [, , right] of cells) assert.ok(Number(right) <= listRight, "the column ends inside the list");

    // The function's own timeout: named so, the function reached, both ids shown.
    await page.click("#rows tr:nth-child(5)");
    await page.waitForSelector("#error-cause");
    const cause = await page.$eval("#error-cause", (div) => div.textContent ?? "");
    assert.ok(
      cause.startsWith(
        "function_timeout — Cannot finish fn-localhost: Task timed out after 1.00 seconds: the function's timeout is 1 s (timeout: in its rule)",
      ),
      cause,
    );
    const resultText = await page.$eval("#pane-result", (pane) => pane.textContent ?? "");
    assert.ok(
      resultText.includes("No result: the function took the event but did not answer in time."),
      resultText,
    );
    const sub = await page.$eval(".sub", (div) => div.textContent ?? "");
    const ids = /request id (\S+) · function request id (\S+) ·/.exec(sub);
    assert.ok(ids, sub);
    assert.equal(ids[1], ids[2]);
    // Either id, pasted into the filter, finds the exchange.
    await page.type("#f-text", ids[2]!);
    await page.waitForFunction(`document.querySelectorAll("#rows tr").length === 1`);
    assert.equal(await page.$eval("#rows tr .code", (td) => td.textContent), "function_timeout");
    await page.$eval("#f-text", (input) => {
      (input as unknown as { value: string }).value = "";
      input.dispatchEvent(new Event("input"));
    });
    await page.waitForFunction(`document.querySelectorAll("#rows tr").length === 5`);

    // A refused connection: not reached, said so.
    await page.click("#rows tr:nth-child(4)");
    await page.waitForFunction(
      `document.querySelector("#error-cause b")?.textContent === "upstream_unreachable"`,
    );
    assert.ok(
      (await page.$eval("#pane-result", (pane) => pane.textContent ?? "")).includes(
        "No result: the function was not reached.",
      ),
    );
    const shot = await Deno.makeTempFile({ prefix: "lrp-inspect-1400-", suffix: ".png" });
    await page.click("#rows tr:nth-child(5)");
    await page.waitForFunction(
      `document.querySelector("#error-cause b")?.textContent === "function_timeout"`,
    );
    await page.screenshot({ path: shot });
    console.log(`screenshot at 1400 px: ${shot}`);
  } finally {
    await browser.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
