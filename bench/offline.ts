/**
 * serverless-offline for the functions bench: serverless@3 and
 * serverless-offline@13 at pinned versions, installed with npm into
 * `bench/.offline/` (git-ignored), never into the project's dependencies.
 * Also the one-function service both its rows serve.
 *
 * @module
 */

/** The pinned versions the bench compares against. */
export const OFFLINE_VERSIONS = { serverless: "3.40.0", "serverless-offline": "13.10.1" } as const;

/** Where the bench installs them. */
export const OFFLINE_DIR = new URL("./.offline/", import.meta.url).pathname;

async function installedVersion(name: string): Promise<string | undefined> {
  try {
    const pkg = JSON.parse(await Deno.readTextFile(`${OFFLINE_DIR}node_modules/${name}/package.json`));
    return typeof pkg.version === "string" ? pkg.version : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Installs the pinned versions when they are missing (`npm install`, about
 * 30 s once); returns the path of serverless's CLI, or throws with npm's
 * own words.
 */
export async function ensureOffline(log: (line: string) => void): Promise<string> {
  const cli = `${OFFLINE_DIR}node_modules/serverless/bin/serverless.js`;
  const current = await Promise.all(Object.keys(OFFLINE_VERSIONS).map(installedVersion));
  if (current.every((v, i) => v === Object.values(OFFLINE_VERSIONS)[i])) return cli;
  log(
    `installing serverless@${OFFLINE_VERSIONS.serverless} and serverless-offline@${
      OFFLINE_VERSIONS["serverless-offline"]
    } into ${OFFLINE_DIR} (npm)`,
  );
  await Deno.mkdir(OFFLINE_DIR, { recursive: true });
  await Deno.writeTextFile(
    `${OFFLINE_DIR}package.json`,
    JSON.stringify({ name: "lrp-bench-offline", private: true, dependencies: OFFLINE_VERSIONS }, null, 2) +
      "\n",
  );
  const out = await new Deno.Command("npm", {
    args: ["install", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"],
    cwd: OFFLINE_DIR,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(600_000),
  }).output();
  if (!out.success) {
    throw new Error(`npm install failed (exit ${out.code}): ${new TextDecoder().decode(out.stderr).trim()}`);
  }
  return cli;
}

/** `serverless.yml` of the bench's service: one Node.js function on every path (HTTP API, payload 2.0). */
export const OFFLINE_SERVICE = `service: lrp-bench
frameworkVersion: "3"
provider:
  name: aws
  runtime: nodejs20.x
  region: us-east-1
plugins:
  - serverless-offline
custom:
  serverless-offline:
    noPrependStageInUrl: true
functions:
  fn:
    handler: index.handler
    events:
      - httpApi: "*"
`;

/** The environment serverless runs with: no telemetry, notifications or network look-ups. */
export const OFFLINE_ENV: Record<string, string> = {
  SLS_TELEMETRY_DISABLED: "1",
  SLS_NOTIFICATIONS_MODE: "off",
  SLS_DEPRECATION_DISABLE: "*",
  SLS_INTERACTIVE_SETUP_DISABLE: "1",
  AWS_ACCESS_KEY_ID: "AKIDBENCH",
  AWS_SECRET_ACCESS_KEY: "bench-secret",
};
