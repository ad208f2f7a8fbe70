/**
 * Finds the programs the benchmark drives and installs missing ones with
 * apt-get (Debian package names), so a fresh machine needs no hand setup.
 *
 * @module
 */

import type { LoadTool } from "./load.ts";

/** The full path of `name` on PATH or in the sbin directories, or undefined. */
export async function which(name: string): Promise<string | undefined> {
  const dirs = [...(Deno.env.get("PATH") ?? "").split(":"), "/usr/sbin", "/sbin", "/usr/local/sbin"];
  for (const dir of dirs) {
    if (dir === "") continue;
    const path = `${dir}/${name}`;
    try {
      const info = await Deno.stat(path);
      if (info.isFile && ((info.mode ?? 0o111) & 0o111) !== 0) return path;
    } catch {
      // Not here.
    }
  }
  return undefined;
}

let updated = false;

async function apt(args: string[]): Promise<boolean> {
  try {
    const out = await new Deno.Command("apt-get", {
      args,
      env: { DEBIAN_FRONTEND: "noninteractive" },
      stdin: "null",
      stdout: "null",
      stderr: "piped",
      signal: AbortSignal.timeout(300_000),
    }).output();
    if (!out.success) {
      console.error(`apt-get ${args.join(" ")}: ${new TextDecoder().decode(out.stderr).trim()}`);
    }
    return out.success;
  } catch (err) {
    console.error(`apt-get ${args.join(" ")}: ${err instanceof Error ? err.message : err}`);
    return false;
  }
}

/** Installs a Debian package, running `apt-get update` once if the first try fails. */
export async function aptInstall(pkg: string): Promise<boolean> {
  console.error(`installing ${pkg} with apt-get…`);
  if (await apt(["install", "-y", "--no-install-recommends", pkg])) return true;
  if (updated) return false;
  updated = true;
  return await apt(["update"]) && await apt(["install", "-y", "--no-install-recommends", pkg]);
}

/** Returns the program's path, installing `pkg` first when it is missing. */
export async function ensure(program: string, pkg: string): Promise<string | undefined> {
  return await which(program) ?? (await aptInstall(pkg) ? await which(program) : undefined);
}

/** The load tool to use: wrk, else hey; throws when neither can be had. */
export async function ensureLoadTool(): Promise<LoadTool> {
  if (await ensure("wrk", "wrk")) return "wrk";
  if (await ensure("hey", "hey")) return "hey";
  throw new Error("Cannot find or install a load tool: neither wrk nor hey");
}

/** First line of `cmd args` output (stdout or stderr), for version reports. */
export async function versionOf(cmd: string, args: string[]): Promise<string> {
  try {
    const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped", stdin: "null" })
      .output();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    return text.trim().split("\n")[0] ?? "";
  } catch {
    return "unknown";
  }
}
