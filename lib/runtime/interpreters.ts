/**
 * Finding the programs a runtime needs: whether a command is an executable
 * on a `PATH`, and whether lrp itself runs on Deno (so a Deno runtime can
 * reuse that very binary).
 *
 * @module
 */

/** Whether `command` is an executable on `PATH` (or an absolute path to one). */
export function onPath(command: string, env: Record<string, string | undefined> = {}): boolean {
  const dirs = command.includes("/") ? [""] : (env.PATH ?? "").split(":").filter((d) => d !== "");
  for (const d of dirs) {
    try {
      const info = Deno.statSync(d ? `${d}/${command}` : command);
      if (info.isFile && ((info.mode ?? 0o111) & 0o111) !== 0) return true;
    } catch {
      // not here
    }
  }
  return false;
}

/** Whether lrp itself runs on a `deno` executable (not a compiled binary), which can run deno functions. */
export function isDeno(): boolean {
  return /(^|\/)deno(\.exe)?$/.test(Deno.execPath());
}
