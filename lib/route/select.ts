/**
 * Which function an `aws:` rule invokes for one request: the fixed
 * `function_name`/`qualifier`, the same filled with the host pattern's
 * captures (`example:{alias}`), or the value of a configured request header
 * (`X-Lambda-Function`). Pure.
 *
 * Whatever the request chose is checked against the rule's `allow` globs
 * before anything is invoked; a function the configuration fixes needs no
 * check. The glob is matched against the function exactly as it will be
 * sent — `name`, `name:qualifier`, or an ARN — so `app-*` allows `app-web`
 * but neither `app-web:live` nor an ARN of another account.
 *
 * @module
 */

import { type AwsRule, isFunctionName, isQualifier } from "./rule.ts";
import { LrpError } from "../errors.ts";
import { fillTemplate, globToRegExp, templateNames } from "./pattern.ts";
import type { HeaderView } from "../wire/header_lines.ts";

/** The function to invoke. */
export interface FunctionChoice {
  /** `FunctionName` for Invoke. */
  functionName: string;
  /** `Qualifier` for Invoke, when separate from the name. */
  qualifier?: string;
}

const allowCache = new WeakMap<AwsRule, RegExp[]>();

function allowRegExps(rule: AwsRule): RegExp[] {
  let res = allowCache.get(rule);
  if (!res) {
    res = rule.allow.map(globToRegExp);
    allowCache.set(rule, res);
  }
  return res;
}

/**
 * Chooses the function for a request routed to `rule`. Throws
 * {@linkcode LrpError}: 400 `bad_request` for a missing or malformed
 * function/qualifier header (or capture), 403 `function_not_allowed` for a
 * function the `allow` globs do not name.
 */
export function selectFunction(
  rule: AwsRule,
  params: Readonly<Record<string, string>>,
  headers: HeaderView,
  host: string,
): FunctionChoice {
  let functionName: string | undefined;
  let qualifier: string | undefined;
  let chosenByRequest = false;
  const fromHeader = rule.functionHeader === undefined ? null : headers.get(rule.functionHeader)?.trim();
  if (fromHeader) {
    functionName = fromHeader;
    chosenByRequest = true;
  } else if (rule.functionName !== undefined) {
    functionName = fillTemplate(rule.functionName, params);
    chosenByRequest = templateNames(rule.functionName).length > 0;
  } else {
    throw new LrpError(
      "bad_request",
      `Cannot choose a function: the request has no ${rule.functionHeader} header`,
    );
  }
  const qualifierFromHeader = rule.qualifierHeader === undefined
    ? null
    : headers.get(rule.qualifierHeader)?.trim();
  if (qualifierFromHeader) {
    qualifier = qualifierFromHeader;
    chosenByRequest = true;
  } else if (rule.qualifier !== undefined) {
    qualifier = fillTemplate(rule.qualifier, params);
    chosenByRequest ||= templateNames(rule.qualifier).length > 0;
  }
  const target = qualifier === undefined ? functionName : `${functionName}:${qualifier}`;
  if (!isFunctionName(functionName) || !isFunctionName(target)) {
    throw new LrpError(
      "bad_request",
      `Cannot choose a function: ${JSON.stringify(target)} is not a Lambda function name, name:alias or ARN`,
    );
  }
  if (qualifier !== undefined && !isQualifier(qualifier)) {
    throw new LrpError(
      "bad_request",
      `Cannot choose a function: ${JSON.stringify(qualifier)} is not a version or alias name`,
    );
  }
  if (chosenByRequest && !allowRegExps(rule).some((re) => re.test(target))) {
    throw new LrpError(
      "function_not_allowed",
      `Cannot invoke "${target}" for host "${host}": the rule's allow list does not name it`,
    );
  }
  return qualifier === undefined ? { functionName } : { functionName, qualifier };
}
