/**
 * The Lambda clients of the aws rules: `@aws-sdk/client-lambda`, loaded the
 * first time a {@linkcode LambdaClients} pool is created — only
 * configurations with `aws:` rules pay for it — for credentials, region and
 * endpoint (the SDK's own default chains, docs/aws.md, "Credentials",
 * "Region", "Endpoint", unless the configuration overrides them), and lrp's
 * own keep-alive pool per endpoint for the buffered calls.
 *
 * @module
 */

import type * as Sdk from "npm:@aws-sdk/client-lambda@3.1164.0";
import { Http1Pool } from "../http/client.ts";
import { type Credentials, loadSigner, type SigningTemplate } from "./sigv4.ts";
import { AWS_SDK } from "../lazy_packages.ts";

type SdkModule = typeof Sdk;

/** lambda-reverse-proxy's region, used when nothing else names one. */
export const DEFAULT_REGION = "eu-central-1";

/** Loads the SDK (and the signer, used once a client exists); one shared promise so concurrent first calls load it once. */
let sdkPromise: Promise<SdkModule> | undefined;
function loadSdk(): Promise<SdkModule> {
  // Named, not a literal: a process without aws rules downloads no SDK (lib/lazy_packages.ts).
  return sdkPromise ??= Promise.all([import(AWS_SDK) as Promise<SdkModule>, loadSigner()])
    .then(([sdk]) => sdk);
}

/** Whether anything has asked for the SDK in this process (for tests and start-up checks). */
export function sdkRequested(): boolean {
  return sdkPromise !== undefined;
}

/** Options of a {@linkcode LambdaClients} pool. */
export interface LambdaClientsOptions {
  /** Region for function names without an ARN region; `""` leaves it to the SDK (profile). */
  region: string;
  /** Endpoint override; `""` leaves it to the SDK (`AWS_ENDPOINT_URL_LAMBDA`, `AWS_ENDPOINT_URL`). */
  endpointUrl: string;
  /** Shared-config profile; `""` leaves it to the SDK (`AWS_PROFILE`). */
  profile: string;
  /** Keep-alive connections per client at most. */
  maxSockets?: number;
  /** Static credentials instead of the SDK's default chain (tests, embedding). */
  credentials?:
    | { accessKeyId: string; secretAccessKey: string; sessionToken?: string | undefined }
    | undefined;
}

/**
 * One `LambdaClient` per region, created on first use and reused (each keeps
 * its own keep-alive connection pool), shared by every aws rule.
 */
export class LambdaClients {
  readonly options: LambdaClientsOptions;
  #clients = new Map<string, Promise<Sdk.LambdaClient>>();
  #pools = new Map<string, Http1Pool>();
  #contexts = new Map<string, CachedContext>();
  #closed = false;

  /**
   * Creates the pool and starts loading what its calls need in the
   * background: the signer, and the SDK unless static credentials and a
   * region make it unnecessary for buffered calls ({@linkcode LambdaClients.context}).
   */
  constructor(options: LambdaClientsOptions) {
    this.options = options;
    // Errors, if any, surface on first use.
    if (options.credentials && options.region !== "") loadSigner().catch(() => {});
    else loadSdk().catch(() => {});
  }

  /** The SDK module, for commands. */
  sdk(): Promise<SdkModule> {
    return loadSdk();
  }

  /** The client for `region` (`""`: the SDK's default region chain). */
  client(region: string): Promise<Sdk.LambdaClient> {
    let c = this.#clients.get(region);
    if (!c) {
      c = loadSdk().then(async (sdk) => {
        const maxSockets = this.options.maxSockets ?? 64;
        const config: Sdk.LambdaClientConfig = {
          // lrp retries only what is safe itself (see AwsInvoker); the SDK's
          // retry would repeat timeouts and 5xx after the function may have run.
          maxAttempts: 1,
          requestHandler: {
            httpAgent: { keepAlive: true, maxSockets },
            httpsAgent: { keepAlive: true, maxSockets },
          },
        };
        if (region !== "") config.region = region;
        if (this.options.endpointUrl !== "") config.endpoint = this.options.endpointUrl;
        if (this.options.profile !== "") config.profile = this.options.profile;
        const creds = this.options.credentials;
        if (creds) {
          const { accessKeyId, secretAccessKey, sessionToken } = creds;
          config.credentials = sessionToken
            ? { accessKeyId, secretAccessKey, sessionToken }
            : { accessKeyId, secretAccessKey };
        }
        const client = new sdk.LambdaClient(config);
        if (region !== "") return client;
        // No region from lrp's configuration or the environment: the SDK's chain (the
        // profile's region) decides, and lambda-reverse-proxy's default comes last.
        try {
          await (client.config as unknown as { region: () => Promise<string> }).region();
          return client;
        } catch {
          client.destroy();
          return new sdk.LambdaClient({ ...config, region: DEFAULT_REGION });
        }
      });
      this.#clients.set(region, c);
    }
    return c;
  }

  /** The keep-alive connection pool to the Invoke API endpoint of `region`. */
  pool(region: string): Http1Pool {
    const url = this.options.endpointUrl || `https://lambda.${region}.amazonaws.com`;
    let pool = this.#pools.get(url);
    if (!pool) {
      pool = new Http1Pool(url, { maxIdle: this.options.maxSockets ?? 64 });
      this.#pools.set(url, pool);
    }
    return pool;
  }

  /**
   * What a buffered Invoke call needs for `region` (`""`: the SDK's chain):
   * the resolved region, its connection pool and the credentials. Resolved
   * through the SDK once and then handed out synchronously while the
   * credentials are fresh; from 6 minutes before they expire a refresh runs in
   * the background (the SDK's own providers refresh within 5 minutes of
   * expiry), and in their last minute callers wait for new ones. Failures are
   * not remembered: the next call asks the SDK again.
   */
  context(region: string): InvokeContext | Promise<InvokeContext> {
    const cached = this.#contexts.get(region);
    if (!cached && this.options.credentials && region !== "") {
      return this.#static(region, this.options.credentials);
    }
    if (cached) {
      const now = Date.now();
      if (now < cached.refreshAt) return cached.context;
      if (now < cached.expiresAt) {
        cached.refreshing ??= this.#resolve(region).catch(() => cached.refreshing = undefined);
        return cached.context;
      }
    }
    return this.#resolve(region);
  }

  /**
   * The context of static credentials (the environment's, or given) and a
   * known region: nothing for the SDK to resolve, so it is never loaded for
   * buffered calls. The credentials never expire.
   */
  async #static(region: string, creds: Credentials): Promise<InvokeContext> {
    await loadSigner();
    const context: InvokeContext = { region, pool: this.pool(region), creds, calls: new Map() };
    if (!this.#closed) {
      this.#contexts.set(region, {
        context,
        refreshAt: Infinity,
        expiresAt: Infinity,
        refreshing: undefined,
      });
    }
    return context;
  }

  async #resolve(region: string): Promise<InvokeContext> {
    const config = (await this.client(region)).config as unknown as {
      credentials: () => Promise<Credentials & { expiration?: Date }>;
      region: () => Promise<string>;
    };
    const [creds, resolved] = await Promise.all([config.credentials(), config.region()]);
    const context: InvokeContext = { region: resolved, pool: this.pool(resolved), creds, calls: new Map() };
    const expiry = creds.expiration?.getTime() ?? Infinity;
    if (!this.#closed) {
      this.#contexts.set(region, {
        context,
        refreshAt: expiry - 6 * 60_000,
        expiresAt: expiry - 60_000,
        refreshing: undefined,
      });
    }
    return context;
  }

  /** Destroys every client and its connections; idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const p of this.#pools.values()) p.close();
    this.#pools.clear();
    this.#contexts.clear();
    for (const c of this.#clients.values()) {
      try {
        (await c).destroy();
      } catch {
        // a client that failed to build holds nothing
      }
    }
    this.#clients.clear();
  }
}

/** What one buffered Invoke call needs: see {@linkcode LambdaClients.context}. */
export interface InvokeContext {
  /** The region the SDK resolved (the signing region). */
  region: string;
  pool: Http1Pool;
  creds: Credentials;
  /** Each function's (and qualifier's) Invoke call, made once for these credentials. */
  calls: Map<string, InvokeCall>;
}

/** An Invoke call of one function with one set of credentials: its target and its signing template. */
export interface InvokeCall {
  /** The request target: path, and `?Qualifier=` when there is one. */
  target: string;
  signer: SigningTemplate;
  /** The header lines before `x-amz-date`. */
  fixed: string;
  /** The `x-amz-security-token` line of temporary credentials, else `""`. */
  token: string;
}

interface CachedContext {
  context: InvokeContext;
  /** From here a background refresh starts (epoch ms). */
  refreshAt: number;
  /** From here callers wait for new credentials (epoch ms). */
  expiresAt: number;
  refreshing: Promise<unknown> | undefined;
}
