/**
 * `lrp healthcheck [URL]`: asks a running lrp for `pong`, for container
 * `HEALTHCHECK`s (distroless images have no curl).
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
 * (`/ping`) or a JSON object whose `status` is `"ok"` (`/healthz`).
 */
export async function checkHealth(url: string, timeoutMs = 3000): Promise<HealthResult> {
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
  return {
    ok: false,
    message: `unhealthy: ${url} answered ${response.status} ${JSON.stringify(body.slice(0, 80))}`,
  };
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
