/**
 * The validated configuration's shape: {@linkcode Config}, and
 * {@linkcode ConfigError} for every mistake in it.
 *
 * @module
 */

import type { LogLevel } from "../obs/log.ts";
import type { Rule } from "../route/rule.ts";

/** The complete, validated configuration. */
export interface Config {
  /** Where the configuration came from (a path, or `<defaults>`). */
  source: string;
  /** AWS region of aws rules without an ARN region; `""` leaves it to the SDK (profile). */
  region: string;
  /** Lambda API endpoint override; `""` leaves it to the SDK (`AWS_ENDPOINT_URL_LAMBDA`, …). */
  endpointUrl: string;
  /** Shared-config profile for AWS credentials; `""` leaves it to the SDK (`AWS_PROFILE`). */
  awsProfile: string;
  /**
   * Credentials from the environment, exactly when the SDK's default chain
   * would take them from there (its first provider: `AWS_ACCESS_KEY_ID` and
   * `AWS_SECRET_ACCESS_KEY` set, no profile named); `undefined` leaves them to
   * the SDK's chain. They print as `(hidden)`.
   */
  awsCredentials?:
    | { accessKeyId: string; secretAccessKey: string; sessionToken?: string | undefined }
    | undefined;
  /** Peers (CIDRs) whose `Forwarded` / `X-Forwarded-Host` picks the route. */
  trustedProxies: string[];
  /** Believe `Forwarded` / `X-Forwarded-Host` from every peer. */
  trustForwardedHost: boolean;
  host: string;
  port: number;
  /** Internal routes live under this prefix: `""` or `/something`. */
  internalRoutePrefix: string;
  logLevel: LogLevel;
  upstreamTimeoutMs: number;
  maxBodyBytes: number;
  /** Longest time to receive a request body, ms (then 408). */
  bodyTimeoutMs: number;
  /** Longest time to receive a request's header block, ms (then 408, connection closed). */
  headerTimeoutMs: number;
  /** Longest time a keep-alive connection waits for its next request, ms (then closed). */
  idleTimeoutMs: number;
  /** Longest time writing an answer may make no progress, ms (then the connection is closed). */
  sendTimeoutMs: number;
  errorDetails: boolean;
  shutdownTimeoutMs: number;
  /** Defaults for local rules that do not set their own. */
  queueLimit: number;
  queueTimeoutMs: number;
  /** Requests handled at once across all rules (then 503). */
  maxInFlight: number;
  /** Bytes of request bodies and unsent answers held at once across all rules (then 503). */
  maxInFlightBytes: number;
  /** Serve Prometheus metrics at `{prefix}/metrics`. */
  metrics: boolean;
  /** Reload the configuration when its file changes. */
  watchConfig: boolean;
  /** Serving processes sharing the port; `auto` means one per CPU (see `lib/run/workers.ts`). */
  workers: number | "auto";
  /** Most header lines a function result may carry (then 502). */
  maxResultHeaders: number;
  /** Largest header block of a function result, bytes as on the wire (then 502). */
  maxResultHeaderBytes: number;
  /** Accept a reload that leaves no routes (otherwise it is refused and the old routes kept). */
  allowEmptyReload: boolean;
  /**
   * Hosts (lower-case, no port) and peer CIDRs that may reach the internal
   * routes; empty means everyone.
   */
  internalHosts: string[];
  /** Label `/metrics` series with endpoint URLs (`target`). */
  metricsEndpointLabels: boolean;
  /** Serve the live inspector page at `{prefix}/inspect` and record exchanges for it. */
  inspect: boolean;
  /** Exchanges the inspector keeps (a ring: the oldest goes first). */
  inspectBuffer: number;
  /** Bytes kept of each body, event and result the inspector records. */
  inspectBodyLimit: number;
  /** Header names (lower case) the inspector hides besides the built-in secret ones. */
  redact: string[];
  /** Show secret headers and cookies in the inspector instead of `‹redacted›`. */
  inspectShowSecrets: boolean;
  rules: Rule[];
  /** Accepted but worth changing: deprecated keys, each `file:line: key: what to use instead`. */
  warnings?: string[];
}

/**
 * One or more configuration mistakes. Each problem is one line naming the
 * source, line and key path (`lrp.yaml:3: local[0].endpoint: …`); the
 * message is the problems, one per line.
 */
export class ConfigError extends Error {
  /** The mistakes, in the order of the file. */
  readonly problems: readonly string[];

  /** Creates the error: one problem, or several (`problems`, with `message` unused). */
  constructor(message: string, problems: readonly string[] = [message]) {
    super(problems.join("\n"));
    this.problems = problems;
    this.name = "ConfigError";
  }
}
