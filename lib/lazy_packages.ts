/**
 * The npm packages lrp loads only when a configuration needs them: the AWS
 * SDK (credential and region chains, response streaming; `aws:` rules) and
 * the OpenTelemetry API (tracing on). Their `import()` takes a name from
 * here, not a string literal, so Deno's static analysis does not see them and
 * a first run without them — the demo, local and functions rules — downloads
 * neither (with `npm-lazy-caching`, deno.json). `deno compile` embeds main.lock's
 * packages and is given each with `--include` (scripts/compile.ts, Dockerfile).
 *
 * @module
 */

/** `@aws-sdk/client-lambda`, pinned as in main.lock and the type imports. */
export const AWS_SDK = "npm:@aws-sdk/client-lambda@3.1164.0";
/** `@opentelemetry/api`, pinned as in main.lock and the type imports. */
export const OTEL_API = "npm:@opentelemetry/api@1.9.0";
/** Every package loaded on demand, for `deno compile --include`. */
export const LAZY_PACKAGES: readonly string[] = [AWS_SDK, OTEL_API];
