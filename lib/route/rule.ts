/**
 * Routing rules: what a configuration's `local:`, `aws:` and `functions:` entries become,
 * and the name checks of the Lambda Invoke API they share with function
 * selection.
 *
 * @module
 */

import type { InvokeMode } from "../invoke/types.ts";
import type { PayloadFormat } from "../wire/formats.ts";
import type { RouteKey } from "./route_key.ts";
import type { CorsOptions } from "../wire/cors.ts";
export type { CorsOptions };

/** The API Gateway API a rule with `routes:` belongs to (docs/routes.md). */
export interface ApiOptions {
  /** `http` (HTTP API) or `rest` (REST API). */
  kind: "http" | "rest";
  /** `api_id`; `""` for the host's implicit API. */
  id: string;
  /** `$default` (HTTP API only) or a stage name. */
  stage: string;
  /** The stage's variables; absent when none. */
  stageVariables?: Record<string, string>;
  /** A named stage is the URL's first path segment (`true`), or only appears in the events (`false`). */
  stageInPath: boolean;
}

/** What every kind of rule may add for API Gateway routing and CORS. */
export interface GatewayFields {
  /** Parsed `routes:`; absent for a rule that answers every request of its host. */
  routes?: RouteKey[];
  /** The API of a rule with routes. */
  api?: ApiOptions;
  /** `cors:`, with or without routes. */
  cors?: CorsOptions;
}

/** A rule that sends matching requests to a local RIE endpoint. */
export interface LocalRule extends GatewayFields {
  kind: "local";
  /** Lower-cased host name, or host pattern (`{x}.example.com`, `*`), the rule answers for. */
  hostname: string;
  /** Event and result format; absent means `2.0` (rules built in code may omit it). */
  payloadFormat?: PayloadFormat;
  /** ALB only: send and read `multiValueHeaders` / `multiValueQueryStringParameters`. */
  multiValueHeaders?: boolean;
  /** `RESPONSE_STREAM` passes the function's stream through as it arrives; absent means `BUFFERED`. */
  invokeMode?: InvokeMode;
  /** Base URL of the RIE (no trailing slash). */
  endpoint: string;
  /** Invocations in flight at once (RIE: 1). */
  concurrency: number;
  /** Requests allowed to wait for a slot. */
  queueLimit: number;
  /** Longest wait for a slot, ms. */
  queueTimeoutMs: number;
  /** Line of the rule in the file (0 when not from a file). */
  line: number;
}

/** A rule that invokes a function through the AWS Lambda Invoke API. */
export interface AwsRule extends GatewayFields {
  kind: "aws";
  /** Lower-cased host name, or host pattern (`{alias}.example.com`, `*`). */
  hostname: string;
  payloadFormat?: PayloadFormat;
  multiValueHeaders?: boolean;
  invokeMode?: InvokeMode;
  /**
   * Name, `name:alias`, or full/partial ARN; may use the host pattern's
   * placeholders (`example:{alias}`). Absent when only a header names the function.
   */
  functionName?: string;
  /** Version or alias, when given separately; may use placeholders. */
  qualifier?: string;
  /** Lower-cased request header naming the function (that-lambda-proxy style). */
  functionHeader?: string;
  /** Lower-cased request header naming the qualifier. */
  qualifierHeader?: string;
  /**
   * Globs a function chosen by the request (placeholder or header) must
   * match, as `name` or `name:qualifier`; empty for fixed functions.
   */
  allow: string[];
  line: number;
}

/** Runtimes lrp can run a function's code with (see `lib/runtime/`). */
export const FUNCTION_RUNTIMES = ["nodejs", "deno", "python", "provided"] as const;
/** One of {@linkcode FUNCTION_RUNTIMES}. */
export type FunctionRuntime = typeof FUNCTION_RUNTIMES[number];

/** A rule whose function lrp runs itself, serving it the Lambda Runtime API (`functions:`). */
export interface FunctionRule extends GatewayFields {
  kind: "function";
  /** Lower-cased host name, or host pattern. */
  hostname: string;
  payloadFormat?: PayloadFormat;
  multiValueHeaders?: boolean;
  invokeMode?: InvokeMode;
  /** `AWS_LAMBDA_FUNCTION_NAME`: the `name` key, or the host name made a valid function name. */
  name: string;
  runtime: FunctionRuntime;
  /** `_HANDLER`: `FILE.EXPORT` (nodejs, deno) or `MODULE.FUNCTION` (python); `""` for provided. */
  handler: string;
  /** Absolute path of the code folder: `LAMBDA_TASK_ROOT` and the working directory. */
  code: string;
  /** Runtime processes at most, each running one invocation at a time. */
  concurrency: number;
  /** Lambda's function timeout, ms. */
  timeoutMs: number;
  /** `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`, MB. */
  memoryMb: number;
  /** `AWS_REGION` of the function (the configuration's region, else us-east-1). */
  region: string;
  /** Extra environment variables of the function. */
  environment: Record<string, string>;
  /**
   * The variables of lrp's own environment the function gets: those a runtime needs to run (`PATH`,
   * `HOME`, …) and the ones the rule's `environment_passthrough` names. Nothing else of lrp's
   * environment reaches it.
   */
  hostEnvironment: Record<string, string>;
  /** Restart the processes when a file under `code` changes. */
  watch: boolean;
  /** An idle process is stopped after this long, ms. */
  idleTimeoutMs: number;
  /** Requests allowed to wait for a free process. */
  queueLimit: number;
  /** Longest wait for a free process, ms. */
  queueTimeoutMs: number;
  line: number;
}

/** A routing rule. */
export type Rule = LocalRule | AwsRule | FunctionRule;

const FUNCTION_NAME =
  /^(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?(\d{12}:)?(function:)?([a-zA-Z0-9-_.]+)(:(\$LATEST(\.PUBLISHED)?|[a-zA-Z0-9-_]+))?$/;

/** Whether `name` is a valid Invoke `FunctionName` (name, `name:qualifier`, full or partial ARN). */
export function isFunctionName(name: string): boolean {
  return name.length <= 256 && FUNCTION_NAME.test(name);
}

/** Whether `qualifier` is a valid version or alias name. */
export function isQualifier(qualifier: string): boolean {
  return /^[a-zA-Z0-9$_-]{1,128}$/.test(qualifier);
}
