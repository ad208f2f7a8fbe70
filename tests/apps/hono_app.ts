/**
 * A Hono app used as a parity fixture: the same `app` is served directly
 * (`Deno.serve(app.fetch)`) and, wrapped by Hono's Lambda adapter, as a Lambda
 * handler behind lrp. The routes live in `hono_routes.mjs` (plain JavaScript,
 * Hono passed in) so a Node.js handler folder runs the very same code.
 *
 * Run it directly: `deno run --allow-net tests/apps/hono_app.ts [port]`.
 *
 * @module
 */

import { Hono } from "npm:hono@4.13.19";
import { handle } from "npm:hono@4.13.19/aws-lambda";
import { getCookie, setCookie } from "npm:hono@4.13.19/cookie";
import {
  createHonoApp,
  ETAG as ETAG_JS,
  PNG_BYTES as PNG_JS,
  sha256Hex as sha256Js,
} from "./hono_routes.mjs";

/** A 1x1 RGBA PNG (70 bytes), served by `GET /png` as a binary body. */
export const PNG_BYTES: Uint8Array<ArrayBuffer> = PNG_JS;

/** The entity tag of `GET /etag`; a matching `If-None-Match` yields 304. */
export const ETAG: string = ETAG_JS;

/** Hex SHA-256 of some bytes. */
export const sha256Hex: (bytes: Uint8Array<ArrayBuffer>) => Promise<string> = sha256Js;

/** The app; serve it directly with `Deno.serve(app.fetch)`. */
export const app: Hono = createHonoApp({ Hono, getCookie, setCookie });

/** The same app as an AWS Lambda handler (API Gateway 1.0/2.0, Function URL, ALB events). */
export const handler: ReturnType<typeof handle> = handle(app);

if (import.meta.main) {
  const port = Number(Deno.args[0] ?? "8000");
  Deno.serve({ port }, app.fetch);
}
