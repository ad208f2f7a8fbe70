/**
 * An Express app used as a parity fixture, like `hono_app.ts` but through the
 * Node compatibility layer: the same `app` is served directly with
 * `app.listen()` and, wrapped by `serverless-http`, as a Lambda handler behind
 * lrp. The routes live in `express_routes.mjs` (plain JavaScript, Express
 * passed in) so a Node.js handler folder runs the very same code.
 *
 * Run it directly: `deno run -A tests/apps/express_app.ts [port]`.
 *
 * @module
 */

// @ts-types="npm:@types/express@5.0.6"
import express from "npm:express@5.3.0";
import serverless from "npm:serverless-http@4.0.0";
import { createExpressApp, SERVERLESS_OPTIONS } from "./express_routes.mjs";

/** The Express app; serve it directly with `app.listen(port)`. */
export const app: express.Express = createExpressApp(express);

/** The same app as an AWS Lambda handler via `serverless-http`. */
export const handler: serverless.Handler = serverless(app, SERVERLESS_OPTIONS);

if (import.meta.main) {
  const port = Number(Deno.args[0] ?? "8001");
  app.listen(port, () => console.log(`express_app listening on ${port}`));
}
