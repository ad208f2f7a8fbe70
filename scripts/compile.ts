/**
 * Builds lrp as single self-contained binaries, one per platform, into
 * `dist/`: `lrp-{version}-{target}` (`.exe` on Windows), plus a SHA-256 sum
 * file.
 *
 * ```sh
 * deno task compile                                # every target
 * deno task compile x86_64-unknown-linux-gnu       # some targets
 * deno task compile --host                         # the running platform only
 * ```
 *
 * The binaries get exactly the permissions lrp uses: network (serving,
 * invoking, OTLP export), reading the configuration file, the `LRP_*` /
 * `OTEL_*` / `AWS_*` environment, and system facts (OTel resource
 * attributes, the listen address). Nothing reads source files at run time:
 * the version comes from `deno.json` through a JSON import, which `deno
 * compile` embeds.
 *
 * @module
 */

import denoJson from "../deno.json" with { type: "json" };
import { LAZY_PACKAGES } from "../lib/lazy_packages.ts";

/** Platforms lrp is released for (`deno compile --target` values). */
export const TARGETS = [
  "x86_64-unknown-linux-gnu",
  "aarch64-unknown-linux-gnu",
  "x86_64-apple-darwin",
  "aarch64-apple-darwin",
  "x86_64-pc-windows-msvc",
] as const;

/**
 * The V8 flags every way of running lrp uses (tasks, binaries, image, benches): a smaller young generation
 * and a slower-growing old one, about 50 MB less RSS under load at no measured CPU cost (docs/performance.md).
 */
export const V8_FLAGS = "--v8-flags=--max-semi-space-size=8,--heap-growing-percent=20";

/**
 * Permission flags baked into every binary (`--allow-run` and `--allow-write`
 * for `functions:` rules: runtime processes, and the bundled runtime clients
 * written to a temporary folder), plus `--unstable-no-legacy-abort`: a
 * request's signal then aborts only when the client goes away, which is all
 * lrp uses it for (and Deno stops warning about the legacy behaviour); and
 * `--allow-run --unstable-net` for `workers` (copies of the binary itself,
 * listening with `reusePort`).
 */
export const PERMISSIONS = [
  "--allow-net",
  "--allow-read",
  "--allow-env",
  "--allow-sys",
  "--allow-run",
  "--allow-write",
  "--unstable-no-legacy-abort",
  // `workers` above 1: the binary starts copies of itself sharing the port (SO_REUSEPORT).
  "--unstable-net",
  V8_FLAGS,
] as const;

/** The host's target triple, when it is one lrp is released for. */
export function hostTarget(): string | undefined {
  return TARGETS.find((t) => t === Deno.build.target);
}

/** The file a target's binary is written to. */
export function outputPath(target: string, version: string = denoJson.version): string {
  return `dist/lrp-${version}-${target}${target.includes("windows") ? ".exe" : ""}`;
}

/** The `deno compile` arguments for one target. */
export function compileArgs(target: string): string[] {
  return [
    "compile",
    "--frozen",
    ...PERMISSIONS,
    // Loaded by a non-literal import() (lib/lazy_packages.ts), so named here.
    ...LAZY_PACKAGES.map((spec) => `--include=${spec}`),
    "--target",
    target,
    "--output",
    outputPath(target),
    "main.ts",
  ];
}

async function sha256(path: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", await Deno.readFile(path));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

if (import.meta.main) {
  const wanted = Deno.args.includes("--host")
    ? [hostTarget() ?? Deno.build.target]
    : Deno.args.length > 0
    ? Deno.args
    : [...TARGETS];
  for (const t of wanted) {
    if (!(TARGETS as readonly string[]).includes(t)) {
      console.error(`compile: unknown target "${t}" (known: ${TARGETS.join(", ")})`);
      Deno.exit(2);
    }
  }
  await Deno.mkdir("dist", { recursive: true });
  const sums: string[] = [];
  for (const target of wanted) {
    const args = compileArgs(target);
    console.error(`compile: deno ${args.join(" ")}`);
    const { code } = await new Deno.Command(Deno.execPath(), { args, stdout: "inherit", stderr: "inherit" })
      .output();
    if (code !== 0) {
      console.error(`compile: failed for ${target}`);
      Deno.exit(code);
    }
    const out = outputPath(target);
    sums.push(`${await sha256(out)}  ${out.slice("dist/".length)}`);
  }
  await Deno.writeTextFile(`dist/SHA256SUMS-${denoJson.version}`, sums.join("\n") + "\n");
  console.error(`compile: ${sums.length} binar${sums.length === 1 ? "y" : "ies"} in dist/`);
}
