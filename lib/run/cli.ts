/**
 * The command line's words: the help text, the subcommands, and one-line
 * messages for mistakes with the closest known word suggested. Pure: main.ts
 * reads the arguments and prints.
 *
 * @module
 */

import { SETTINGS } from "../config/settings.ts";

/** The `--help` text of lrp `version`: usage, every setting from {@linkcode SETTINGS}, signals. */
export function helpText(version: string): string {
  return `lrp ${version} — the Lambda Reverse Proxy

Routes HTTP requests by Host to AWS Lambda functions — a local Runtime Interface
Emulator (RIE) endpoint, the Lambda Invoke API, or a handler lrp runs itself
under its own Runtime API — as API Gateway / Function URL payload format 2.0 events.

Usage:
  lrp [options] [CONFIG]        serve; CONFIG defaults to $LRP_CONFIG, then ./lrp.yaml
  lrp check [options] [CONFIG]  validate CONFIG and print the route table
  lrp healthcheck [URL]         exit 0 if lrp answers "pong" or /healthz "ok" (default: the
                                /ping of CONFIG's port and prefix on 127.0.0.1)
  lrp lambda [options] [CONFIG] run as a Lambda function behind a Function URL
                                (custom runtime; the default when
                                $AWS_LAMBDA_RUNTIME_API is set)
  lrp extension [options] [CONFIG]
                                run as a Lambda extension serving lrp on its
                                host:port until Lambda shuts down
  lrp demo [options]            run example functions behind lrp (no config needed)
  lrp start-api [options]       serve a SAM template or serverless.yml's functions and routes
                                (--template FILE, --stage NAME, --stage-in-path,
                                --parameter-overrides K=V..., --env-vars FILE.json,
                                --warm-containers EAGER|LAZY, --no-watch; port 3000,
                                host 127.0.0.1; docs/start-api.md)
  lrp check --template FILE     print the routes start-api would serve

Options (flag > environment variable > file > default):
${
    SETTINGS.map((s) =>
      `  --${`${s.flag}${s.switch ? "" : " <value>"}`.padEnd(30)} ${s.help} [env ${s.env}, default ${
        s.inverse ? "off" : JSON.stringify(s.default)
      }]`
    )
      .join("\n")
  }
  -h, --help                       show this help
  -V, --version                    show the version

Signals: SIGINT/SIGTERM stop gracefully (a second one is logged, a third forces the exit);
SIGHUP reloads the configuration (with --workers, send signals to the first process:
it relays them to all).
`;
}

/** The subcommands. */
export const COMMANDS = ["check", "demo", "healthcheck", "lambda", "extension", "start-api"];

/** The options only `start-api` takes (and `check`, `--template`), beside the settings (docs/start-api.md). */
export const START_API_OPTIONS: Record<string, { type: "string" | "boolean"; multiple?: boolean }> = {
  template: { type: "string" },
  stage: { type: "string" },
  "stage-in-path": { type: "boolean" },
  "parameter-overrides": { type: "string", multiple: true },
  "env-vars": { type: "string" },
  "warm-containers": { type: "string" },
  "no-watch": { type: "boolean" },
};

/**
 * One line for a command-line mistake `parseArgs` reported, in lrp's words
 * and with the closest known option for an unknown one.
 */
export function argsProblem(err: unknown, known: string[]): string {
  const code = (err as { code?: string }).code;
  const message = err instanceof Error ? err.message : String(err);
  const option = /'(-{1,2}[^' ]+)/.exec(message)?.[1];
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" && option) {
    const meant = closest(option.replace(/^-+/, ""), known);
    return `unknown option ${option}${meant ? ` (did you mean "--${meant}"?)` : ""}`;
  }
  if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE" && option) return `option ${option} needs a value`;
  return message;
}

/**
 * The candidate closest to `word` by edit distance (Levenshtein), if it is
 * within 2 edits and closer than the word is long — a likely typo, not a
 * different word.
 */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.min(3, word.length);
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c);
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) {
      next[j] = Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    row = next;
  }
  return row[b.length]!;
}
