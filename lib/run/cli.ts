/**
 * The command line's words: the help text, the subcommands, and one-line
 * messages for mistakes with the closest known word suggested. Pure: main.ts
 * reads the arguments and prints.
 *
 * @module
 */

import { SETTINGS } from "../config/settings.ts";
import { closest } from "../suggest.ts";

/** The `--help` text of lrp `version`: usage, every setting from {@linkcode SETTINGS}, signals. */
export function helpText(version: string): string {
  return `lrp ${version} — the Lambda Reverse Proxy

Routes HTTP requests by Host to AWS Lambda functions — a local Runtime Interface
Emulator (RIE) endpoint, the Lambda Invoke API, or a handler lrp runs itself
under its own Runtime API — as API Gateway / Function URL payload format 2.0 events.

Usage:
  lrp [options] [CONFIG]        serve; CONFIG defaults to $LRP_CONFIG, then ./lrp.yaml
  lrp check [options] [CONFIG]  validate CONFIG and print the route table, or every
                                mistake with its file:line (exit 1)
  lrp healthcheck [URL|CONFIG]  exit 0 if lrp answers "pong" or /healthz "ok": a base URL
                                (http://127.0.0.1:8080) asks its {prefix}/ping; a config
                                file (lrp.yaml) gives host, port and prefix (default:
                                $LRP_CONFIG, then ./lrp.yaml)
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

/**
 * Old flag names still accepted: each one's new flag and the warning a user
 * gets for it. "watch" alone said nothing of what is watched.
 */
export const FLAG_ALIASES: Readonly<Record<string, { flag: string; warning: string }>> = {
  watch: {
    flag: "watch-config",
    warning:
      "--watch is deprecated, use --watch-config (it reloads the configuration file when it changes; " +
      "watch_code: in a functions rule restarts a function when its code changes)",
  },
};

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

/** The closest known word to a mistyped one (lib/suggest.ts), for flags and commands. */
export { closest };
