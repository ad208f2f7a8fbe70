/**
 * Regenerates `lib/run/demo_handlers.ts`, the handler files of `lrp demo`
 * (`examples/functions/demo/`) embedded as text, so the demo reads no source
 * files at run time and `deno compile` needs no `--include`:
 *
 * ```sh
 * deno run --allow-read --allow-write --allow-run scripts/gen_demo.ts   # rewrite the module, then deno fmt
 * ```
 *
 * `tests/run/demo_test.ts` checks that the embedded texts equal the files.
 *
 * @module
 */

/** The folder holding the demo's handlers, relative to the repository root. */
export const SOURCE_DIR = "examples/functions/demo";
/** The generated module, relative to the repository root. */
export const MODULE_PATH = "lib/run/demo_handlers.ts";

/** The text of the generated module for `files` (file name → text), in name order. */
export function demoModule(files: Record<string, string>): string {
  const entries = Object.keys(files).sort().map((name) =>
    `  ${JSON.stringify(name)}:\n    ${JSON.stringify(files[name])},\n`
  );
  return `/**
 * The handler files of \`lrp demo\`, embedded as text: generated from
 * ${SOURCE_DIR}/ by \`deno run --allow-read --allow-write --allow-run scripts/gen_demo.ts\`;
 * do not edit (tests/run/demo_test.ts checks it equals the files).
 *
 * @module
 */

/** The demo's handler files (\`${SOURCE_DIR}/\`), by file name. */
export const DEMO_FILES: Readonly<Record<string, string>> = {
${entries.join("")}};
`;
}

/** Reads the handler files of {@linkcode SOURCE_DIR} (the `.mjs` files), relative to `root`. */
export async function readDemoFiles(root: URL): Promise<Record<string, string>> {
  const dir = new URL(`${SOURCE_DIR}/`, root);
  const files: Record<string, string> = {};
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isFile && entry.name.endsWith(".mjs")) {
      files[entry.name] = await Deno.readTextFile(new URL(entry.name, dir));
    }
  }
  return files;
}

if (import.meta.main) {
  const root = new URL("../", import.meta.url);
  const target = new URL(MODULE_PATH, root);
  await Deno.writeTextFile(target, demoModule(await readDemoFiles(root)));
  const fmt = await new Deno.Command(Deno.execPath(), { args: ["fmt", "--quiet", target.pathname] }).output();
  if (!fmt.success) {
    console.error(new TextDecoder().decode(fmt.stderr));
    Deno.exit(1);
  }
}
