/**
 * The route table in words, for `lrp check` and the start-up log.
 *
 * @module
 */

import type { AwsRule } from "../route/rule.ts";
import type { Config } from "./types.ts";

/** The route table as text lines, for `lrp check` and the start-up log. */
export function describeRules(config: Config): string[] {
  return config.rules.map((r) => {
    const format = (r.payloadFormat ?? "2.0") === "2.0"
      ? ""
      : ` [payload ${r.payloadFormat}${r.multiValueHeaders ? ", multi-value" : ""}]`;
    const mode = r.invokeMode === "RESPONSE_STREAM" ? " [stream]" : "";
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
