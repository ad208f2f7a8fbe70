/**
 * Writes `lib/vendor/yaml.js`: the parts of `npm:yaml` that lrp uses, bundled
 * from the package's own ES module build into one file. Loading the package
 * from npm goes through Deno's CommonJS path (its `exports` map sends Deno to
 * the `node` build): ~65 ms of every start-up, for a file of lrp.yaml. The one
 * ES module loads in a few milliseconds (docs/performance.md, round 4).
 *
 * Run after changing the version: `deno run -A scripts/vendor_yaml.ts`.
 * `tests/config/vendor_yaml_test.ts` checks the file against the package.
 *
 * @module
 */

/** The pinned package: the same in `lib/config/parse.ts`'s type import. */
export const YAML_VERSION = "2.9.1";
const OUT = new URL("../lib/vendor/yaml.js", import.meta.url).pathname;

/** A file of the package as Deno's npm cache holds it. */
async function packageFile(name: string): Promise<string> {
  const info = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", `npm:yaml@${YAML_VERSION}`],
  })
    .output();
  const npm = JSON.parse(new TextDecoder().decode(info.stdout)).npmPackages as Record<string, unknown>;
  if (!npm[`yaml@${YAML_VERSION}`]) throw new Error(`Cannot find yaml@${YAML_VERSION} in Deno's npm cache`);
  const root = new TextDecoder().decode(
    (await new Deno.Command(Deno.execPath(), { args: ["info", "--json"] }).output()).stdout,
  );
  const cache = JSON.parse(root).npmCache as string;
  return `${cache}/registry.npmjs.org/yaml/${YAML_VERSION}/${name}`;
}

if (import.meta.main) {
  const dir = await Deno.makeTempDir();
  try {
    const entry = `${dir}/entry.ts`;
    await Deno.writeTextFile(
      entry,
      `export { isMap, isScalar, LineCounter, parseDocument } from "npm:yaml@${YAML_VERSION}";\n`,
    );
    const bundle = await new Deno.Command(Deno.execPath(), {
      args: ["bundle", "--quiet", "--platform", "browser", "--no-lock", entry, "-o", `${dir}/out.js`],
    }).output();
    if (!bundle.success) throw new Error(`Cannot bundle yaml: ${new TextDecoder().decode(bundle.stderr)}`);
    // The bundler names each source file by its path in this machine's cache: keep only the package path.
    const code = (await Deno.readTextFile(`${dir}/out.js`)).replace(
      /^\/\/ .*?\/yaml\/\d+\.\d+\.\d+\//gm,
      "// yaml/",
    );
    const licence = await Deno.readTextFile(await packageFile("LICENSE"));
    const header =
      `// yaml ${YAML_VERSION} (https://github.com/eemeli/yaml), bundled from the package's ES module build
// by scripts/vendor_yaml.ts: do not edit. Its licence:
//
${licence.trim().split("\n").map((l) => l ? `// ${l}` : "//").join("\n")}
//
// deno-fmt-ignore-file
// deno-lint-ignore-file
`;
    await Deno.mkdir(new URL("../lib/vendor/", import.meta.url), { recursive: true });
    await Deno.writeTextFile(OUT, header + code);
    console.log(`wrote ${OUT}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
