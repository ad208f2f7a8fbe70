/**
 * Lambda runtime identifiers (`nodejs20.x`, `python3.12`, `provided.al2023`)
 * mapped to the runtimes lrp runs, and the handler-file checks shared by the
 * SAM and Serverless readers. The file system is reached only through
 * {@linkcode Files}, so the readers stay testable.
 *
 * @module
 */

import { resolve } from "node:path";
import { HANDLER_EXTENSIONS } from "../config/functions.ts";
import type { FunctionRuntime } from "../route/rule.ts";

/** What the readers may ask of the file system. */
export interface Files {
  isDirectory(path: string): boolean;
  isFile(path: string): boolean;
}

/** The real file system. */
export const DISK: Files = {
  isDirectory: (path) => {
    try {
      return Deno.statSync(path).isDirectory;
    } catch {
      return false;
    }
  },
  isFile: (path) => {
    try {
      return Deno.statSync(path).isFile;
    } catch {
      return false;
    }
  },
};

/** The lrp runtime of a Lambda runtime identifier, or why lrp cannot run it. */
export function lrpRuntimeOf(runtime: string): { runtime: FunctionRuntime } | { reason: string } {
  if (/^nodejs\d+\.x$/.test(runtime)) return { runtime: "nodejs" };
  if (/^python3\.\d+$/.test(runtime)) return { runtime: "python" };
  if (/^provided(\.al2|\.al2023)?$/.test(runtime)) return { runtime: "provided" };
  if (runtime === "go1.x") {
    return {
      reason: "runtime go1.x is retired: build a bootstrap and use provided.al2023 (lrp runs its bootstrap)",
    };
  }
  const family = /^(java|dotnet|ruby)/.exec(runtime)?.[1];
  if (family) {
    return {
      reason: `runtime ${runtime}: lrp runs nodejs, python and provided functions; ` +
        `serve ${family} functions through an RIE container and a local: rule (docs/start-api.md)`,
    };
  }
  return { reason: `runtime ${JSON.stringify(runtime)} is not a Lambda runtime lrp knows` };
}

/** The file a handler names (`src/app.handler` → `src/app`), as Lambda looks it up for `runtime`. */
export function handlerStem(handler: string, runtime: FunctionRuntime): string {
  const stem = handler.slice(0, handler.lastIndexOf("."));
  return runtime === "python" ? stem.replaceAll(".", "/") : stem;
}

/**
 * The handler's file under `code` (`app.js`), or `undefined`; for
 * `provided`, the `bootstrap`.
 */
export function findHandlerFile(
  code: string,
  handler: string,
  runtime: FunctionRuntime,
  files: Files,
): string | undefined {
  if (runtime === "provided") return files.isFile(resolve(code, "bootstrap")) ? "bootstrap" : undefined;
  const stem = handlerStem(handler, runtime);
  return HANDLER_EXTENSIONS[runtime].map((ext) => stem + ext).find((f) => files.isFile(resolve(code, f)));
}

/** TypeScript sources a `deno` runtime can run in place of a build: `.ts`, `.tsx`. */
export const TYPESCRIPT_EXTENSIONS = [".ts", ".tsx"];
