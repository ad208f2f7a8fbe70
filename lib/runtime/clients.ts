/**
 * How each runtime is started: the bundled client written to a temporary
 * folder, the interpreter's command line, and the environment variables
 * Lambda sets for a function.
 *
 * @module
 */

import { isDeno, onPath } from "./interpreters.ts";
import type { FunctionRule, FunctionRuntime } from "../route/rule.ts";
import { DENO_CLIENT, NODE_CLIENT, PYTHON_CLIENT } from "./clients/generated.ts";

/** Each bundled client's file name in the temporary folder, and its text (from `clients/generated.ts`). */
export const CLIENT_FILES: Record<Exclude<FunctionRuntime, "provided">, [string, string]> = {
  nodejs: ["lrp-runtime-client.mjs", NODE_CLIENT],
  deno: ["lrp-runtime-client.ts", DENO_CLIENT],
  python: ["lrp_runtime_client.py", PYTHON_CLIENT],
};

/** A temporary folder holding one runtime's bundled client; removed by `close`. */
export interface ClientFolder {
  /** The command line that starts a runtime process of `rule`. */
  command: string[];
  close(): Promise<void>;
}

/** Writes the client of `rule.runtime` (none for `provided`) and builds its command line. */
export async function prepareClient(rule: FunctionRule): Promise<ClientFolder> {
  if (rule.runtime === "provided") {
    return { command: [`${rule.code}/bootstrap`], close: () => Promise.resolve() };
  }
  const dir = await Deno.makeTempDir({ prefix: "lrp-runtime-" });
  const [name, text] = CLIENT_FILES[rule.runtime];
  const file = `${dir}/${name}`;
  await Deno.writeTextFile(file, text);
  // V8 runtimes get a heap limit from the memory size (about 90 %, as Lambda's Node.js runtime does).
  const heap = Math.floor(rule.memoryMb * 0.9);
  const command = rule.runtime === "nodejs"
    ? ["node", `--max-old-space-size=${heap}`, file]
    : rule.runtime === "deno"
    ? [denoCommand(), "run", "--allow-all", "--no-prompt", `--v8-flags=--max-old-space-size=${heap}`, file]
    : ["python3", "-u", file];
  return {
    command,
    close: () => Deno.remove(dir, { recursive: true }).catch(() => {}),
  };
}

/** The deno that runs deno functions: lrp's own executable when lrp runs on deno, else `deno` on PATH. */
function denoCommand(): string {
  return isDeno() ? Deno.execPath() : "deno";
}

/** Whether processes can get their own process group through `setsid`. */
export function canSetsid(): boolean {
  return Deno.build.os === "linux" && (onPath("/usr/bin/setsid") || onPath("/bin/setsid"));
}

/**
 * A function's whole environment: the part of lrp's it gets (`hostEnvironment`), the variables Lambda
 * sets, then the rule's `environment` (which wins).
 */
export function lambdaEnvironment(rule: FunctionRule): Record<string, string> {
  return {
    ...rule.hostEnvironment,
    AWS_LAMBDA_FUNCTION_NAME: rule.name,
    AWS_LAMBDA_FUNCTION_VERSION: "$LATEST",
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(rule.memoryMb),
    AWS_LAMBDA_FUNCTION_TIMEOUT: String(Math.ceil(rule.timeoutMs / 1000)),
    AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${rule.name}`,
    AWS_LAMBDA_LOG_STREAM_NAME: "$LATEST",
    AWS_LAMBDA_INITIALIZATION_TYPE: "on-demand",
    AWS_REGION: rule.region,
    AWS_DEFAULT_REGION: rule.region,
    AWS_EXECUTION_ENV: `AWS_Lambda_${rule.runtime === "provided" ? "provided" : rule.runtime}`,
    LAMBDA_TASK_ROOT: rule.code,
    LAMBDA_RUNTIME_DIR: rule.code,
    _HANDLER: rule.handler,
    TZ: ":UTC",
    LANG: "en_US.UTF-8",
    // Lambda's code folder is read-only: no __pycache__ is written into it there, nor here.
    ...(rule.runtime === "python" && { PYTHONDONTWRITEBYTECODE: "1" }),
    ...rule.environment,
  };
}
