/**
 * `lrp healthcheck [URL | CONFIG]`: asks a running lrp for `pong`, for
 * container `HEALTHCHECK`s (distroless images have no curl). The operand is
 * what a user types: a full URL, a base URL (`http://127.0.0.1:8080`, whose
 * `{prefix}/ping` is asked), `host:port`, or the path of lrp's config file.
 *
 * @module
 */

import type { Config } from "../config/types.ts";

/** The result of one check. */
export interface HealthResult {
  ok: boolean;
  /** One line for the operator. */
  message: string;
}

/** What `lrp healthcheck` was given: a URL to ask as it is, a base URL to add `{prefix}/ping` to, or a file. */
export type HealthTarget =
  | { kind: "url"; url: string }
  | { kind: "base"; base: string }
  | { kind: "config"; path: string };

/**
 * Reads the operand of `lrp healthcheck`: an http(s) URL with a path is asked
 * as it is; one without a path, or a bare `host:port`, is a base; anything
 * else is a config file's path.
 */
export function healthTarget(operand: string): HealthTarget {
  const text = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d+\/?$/.test(operand) ? `http://${operand}` : operand;
  if (/^https?:\/\//i.test(text)) {
    try {
      const url = new URL(text);
      if (url.pathname === "/" && url.search === "" && !text.endsWith("/?")) {
        return { kind: "base", base: `${url.protocol}//${url.host}` };
      }
      return { kind: "url", url: text };
    } catch {
      // Not a URL after all: read as a path, whose error names it.
    }
  }
  return { kind: "config", path: operand };
}

/**
 * The URL a local lrp answers `/ping` on: 127.0.0.1 (or the configured host
 * when it is a specific address), the configured port and route prefix.
 */
export function defaultHealthUrl(config: Config): string {
  const wildcard = config.host === "0.0.0.0" || config.host === "::" || config.host === "";
  const host = wildcard ? "127.0.0.1" : config.host.includes(":") ? `[${config.host}]` : config.host;
  return `http://${host}:${config.port}${config.internalRoutePrefix}/ping`;
}

/**
 * Healthy means: answered 200 within `timeoutMs` with the body `pong`
 * (`/ping`) or a JSON object whose `status` is `"ok"` (`/healthz`). A 404
 * says `notFoundHint`, when given, instead of the body.
 */
export async function checkHealth(
  url: string,
  timeoutMs = 3000,
  notFoundHint?: string,
): Promise<HealthResult> {
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    const why = err instanceof DOMException && err.name === "TimeoutError"
      ? `no answer within ${timeoutMs} ms`
      : err instanceof Error
      ? err.message
      : String(err);
    return { ok: false, message: `unhealthy: ${url}: ${why}` };
  }
  const body = await response.text().catch(() => "");
  if (response.status === 200 && (body.trim() === "pong" || jsonStatus(body) === "ok")) {
    return { ok: true, message: `healthy: ${url}` };
  }
  const what = response.status === 404 && notFoundHint
    ? `(${notFoundHint})`
    : JSON.stringify(body.slice(0, 80));
  return { ok: false, message: `unhealthy: ${url} answered ${response.status} ${what}` };
}

/** The `status` field of a JSON object body, or `undefined`. */
function jsonStatus(body: string): unknown {
  try {
    const parsed = JSON.parse(body);
    return typeof parsed === "object" && parsed !== null ? parsed.status : undefined;
  } catch {
    return undefined;
  }
}
