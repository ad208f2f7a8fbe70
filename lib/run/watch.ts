/**
 * Watching the configuration file for `watch_config: true`.
 *
 * @module
 */

import { basename, dirname, resolve } from "node:path";

/** A running watch. */
export interface FileWatch {
  /** Stops watching. */
  close(): void;
}

/**
 * Calls `onChange` after `path` was written, created or replaced, once per
 * burst of events (editors write a file in several steps, or write a
 * temporary file and rename it over the original: the directory is watched,
 * not the file, so a replaced file is still seen).
 */
export function watchFile(path: string, onChange: () => void, debounceMs = 200): FileWatch {
  const target = resolve(path);
  const name = basename(target);
  const watcher = Deno.watchFs(dirname(target), { recursive: false });
  let timer: ReturnType<typeof setTimeout> | undefined;
  (async () => {
    for await (const event of watcher) {
      if (event.kind === "access" || !event.paths.some((p) => basename(p) === name)) continue;
      clearTimeout(timer);
      timer = setTimeout(onChange, debounceMs);
    }
  })().catch(() => {});
  return {
    close() {
      clearTimeout(timer);
      try {
        watcher.close();
      } catch {
        // already closed
      }
    },
  };
}
