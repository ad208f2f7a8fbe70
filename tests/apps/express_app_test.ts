import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { handler } from "./express_app.ts";

const TESTDATA = new URL("../testdata/", import.meta.url);

Deno.test("express handler() turns the AWS Function URL sample into a request with its query, cookies and body", async () => {
  const event = JSON.parse(await Deno.readTextFile(new URL("function-url-post-iam.json", TESTDATA)));
  const result = await handler(event, {}) as Record<string, unknown>;

  assertEquals(result.statusCode, 200);
  const echo = JSON.parse(result.body as string);
  assertEquals(echo.method, "POST");
  assertEquals(echo.target, "/my/path?parameter1=value1&parameter1=value2&parameter2=value");
  assertEquals(echo.query, { parameter1: ["value1", "value2"], parameter2: "value" });
  assertEquals(echo.body.length, 18);
});

Deno.test("express handler() returns each Set-Cookie as an element of `cookies`", async () => {
  const event = JSON.parse(await Deno.readTextFile(new URL("http-api-v2-get-cookies.json", TESTDATA)));
  event.rawPath = "/cookies";
  const result = await handler(event, {}) as Record<string, unknown>;

  assertEquals(result.statusCode, 200);
  assertEquals((result.cookies as string[]).length, 3);
  assertEquals(JSON.parse(result.body as string).received, {
    s_fid: "7AABXMPL1AFD9BBF-0643XMPL09956DE2",
    regStatus: "pre-register",
  });
});
