/**
 * The route table in words, for `lrp check` and the start-up log.
 *
 * @module
 */

import type { AwsRule, Rule } from "../route/rule.ts";
import { compareRanks, rankOf } from "../route/route_table.ts";
import type { Config } from "./types.ts";

/**
 * The route table as text lines, for `lrp check` and the start-up log: one
 * line per rule, then for each host with routes its routes in the order they
 * are tried (docs/routes.md), each with the stage prefix its URL needs.
 */
export function describeRules(config: Config): string[] {
  return [...describeEachRule(config), ...describeRoutes(config)];
}

function describeEachRule(config: Config): string[] {
  return config.rules.map((r) => {
    const format = (r.payloadFormat ?? "2.0") === "2.0"
      ? ""
      : ` [payload ${r.payloadFormat}${r.multiValueHeaders ? ", multi-value" : ""}]`;
    const mode = (r.invokeMode === "RESPONSE_STREAM" ? " [stream]" : "") + gatewayOf(r);
    if (r.kind === "function") {
      return `${r.hostname} -> function ${r.name} (${r.runtime}${
        r.handler ? ` ${r.handler}` : ""
      } in ${r.code}, concurrency ${r.concurrency}, timeout ${
        r.timeoutMs / 1000
      }s, queue ${r.queueLimit})${format}${mode}`;
    }
    if (r.kind === "local") {
      return `${r.hostname} -> local ${r.endpoint} (concurrency ${r.concurrency}, queue ${r.queueLimit})${format}${mode}`;
    }
    return `${r.hostname} -> aws ${describeAwsTarget(r)}${
      r.allow.length ? ` allow ${r.allow.join(",")}` : ""
    }${format}${mode}`;
  });
}

function describeRoutes(config: Config): string[] {
  const lines: string[] = [];
  const hosts = [...new Set(config.rules.filter((r) => r.routes).map((r) => r.hostname))];
  for (const host of hosts) {
    lines.push(`${host} routes, in the order they are tried:`);
    const routes = config.rules.filter((r) => r.hostname === host).flatMap((rule) =>
      (rule.routes ?? []).map((key) => ({ key, rule }))
    );
    routes.sort((a, b) => compareRanks(rankOf(a.key), rankOf(b.key)));
    for (const { key, rule } of routes) {
      const api = rule.api!;
      const prefix = api.stage !== "$default" && api.stageInPath && !key.isDefault ? `/${api.stage}` : "";
      const shown = key.isDefault
        ? key.key
        : `${key.method} ${prefix}${key.path === "/" && prefix ? "" : key.path}`;
      lines.push(`  ${shown} -> ${shortTarget(rule)}`);
    }
  }
  return lines;
}

/** A rule's API and CORS in words: ` [http api, stage $default] [cors]`. */
function gatewayOf(r: Rule): string {
  const api = r.api ? ` [${r.api.kind} api${r.api.id ? ` ${r.api.id}` : ""}, stage ${r.api.stage}]` : "";
  return api + (r.cors ? " [cors]" : "");
}

/** A rule's target in a few words, for its routes' lines. */
function shortTarget(r: Rule): string {
  return r.kind === "function"
    ? `function ${r.name}`
    : r.kind === "local"
    ? `local ${r.endpoint}`
    : `aws ${describeAwsTarget(r)}`;
}

/** An aws rule's target in words: `fn:live`, `header x-lambda-function (default fn)`. */
export function describeAwsTarget(r: AwsRule): string {
  const fixed = r.functionName === undefined
    ? ""
    : `${r.functionName}${r.qualifier ? `:${r.qualifier}` : ""}`;
  if (r.functionHeader === undefined) return fixed;
  return `header ${r.functionHeader}${r.qualifierHeader ? `/${r.qualifierHeader}` : ""}${
    fixed ? ` (default ${fixed})` : ""
  }`;
}
