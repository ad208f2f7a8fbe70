/**
 * The bench's start-api row: `lrp start-api` serving a 3-function SAM
 * template (Node.js handlers answering "ok", on `GET /a`, `GET /b/{id}` and
 * `$default`), loaded at 1 and 16 connections, and its cold start — from
 * spawning lrp to the first answer of a function, which includes lrp's
 * start-up, the template read and the runtime process's start.
 *
 * @module
 */

import { V8_FLAGS } from "../scripts/compile.ts";
import { dirname } from "node:path";
import { type Child, type Children, freePort, FUNCTION_HANDLER, waitUntil } from "./procs.ts";

/** The start-api row's second load point (its first is the bench's 1-connection point). */
export const C16_POINT = { connections: 16, bodyBytes: 0 };

/** The path the row loads: a variable route of the template. */
export const START_API_PATH = "/b/42";

/** The bench's 3-function template: one shared code folder, three functions, three routes. */
export function benchTemplate(): string {
  const fn = (id: string, events: string) =>
    `  ${id}:\n    Type: AWS::Serverless::Function\n    Properties:\n      Handler: index.handler\n` +
    `      Events:\n        Route:\n          Type: HttpApi\n${events}`;
  return `Transform: AWS::Serverless-2016-10-31\nGlobals:\n  Function:\n    Runtime: nodejs20.x\n    CodeUri: src\n` +
    `Resources:\n` +
    fn("A", "          Properties: {Path: /a, Method: GET}\n") +
    fn("B", "          Properties: {Path: '/b/{id}', Method: GET}\n") +
    fn("Rest", "");
}

/** The running row, or why it was skipped. */
export type StartApiRow =
  | { child: Child; port: number; coldMs: number }
  | { skipped: string };

/**
 * Writes the template under `tmp` and starts `lrp start-api` on it with the
 * bench's runtime flags; resolves once `START_API_PATH` answers "ok".
 */
export async function startStartApi(
  children: Children,
  lrpMain: string,
  tmp: string,
  env: Record<string, string>,
): Promise<StartApiRow> {
  const dir = `${tmp}/start-api`;
  await Deno.mkdir(`${dir}/src`, { recursive: true });
  await Deno.writeTextFile(`${dir}/src/index.mjs`, FUNCTION_HANDLER);
  await Deno.writeTextFile(`${dir}/template.yaml`, benchTemplate());
  const port = freePort();
  const start = performance.now();
  const child = children.spawn(
    "lrp-start-api",
    Deno.execPath(),
    [
      "run",
      "--allow-all",
      "--unstable-no-legacy-abort",
      V8_FLAGS,
      lrpMain,
      "start-api",
      "--template",
      `${dir}/template.yaml`,
      "--port",
      String(port),
      "--no-watch",
      "--log-level",
      "warn",
    ],
    { cwd: dirname(lrpMain), env },
  );
  try {
    await waitUntil(
      child,
      port,
      START_API_PATH,
      "127.0.0.1",
      (r) => r.status === 200 && r.body === "ok",
      20_000,
      1,
    );
  } catch (err) {
    await children.stop(child);
    return { skipped: `lrp start-api did not answer: ${err instanceof Error ? err.message : err}` };
  }
  return { child, port, coldMs: Math.round((performance.now() - start) * 10) / 10 };
}
