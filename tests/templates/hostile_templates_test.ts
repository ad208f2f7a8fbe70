/**
 * Templates built to hurt the reader, through a real `lrp check --template`
 * process: YAML aliases that refer to themselves or multiply (a "billion
 * laughs"), nesting deep enough to exhaust the stack, and Serverless
 * variables that multiply. Each stops lrp within seconds with one line
 * naming the file, never a hang or a stack trace.
 */
import assert from "node:assert/strict";
import { runLrp } from "../helpers/process.ts";

const FUNCTION = `    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.handler
      Runtime: nodejs20.x
      Events:
        Api: { Type: HttpApi, Properties: { Path: /x, Method: get } }
`;

/** Runs `lrp check --template` on `files` (name → text) in a fresh folder; the first file is the template. */
async function check(files: Record<string, string>) {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/src`);
    await Deno.writeTextFile(`${dir}/src/app.js`, "exports.handler = async () => ({ statusCode: 200 });\n");
    for (const [name, text] of Object.entries(files)) await Deno.writeTextFile(`${dir}/${name}`, text);
    const started = Date.now();
    const out = await runLrp(["check", "--template", Object.keys(files)[0]!], { cwd: dir });
    return { ...out, ms: Date.now() - started };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Ten levels of ten aliases each: 10^9 values from a few hundred bytes. */
function laughs(indent: string, item = "x") {
  const lines = [`${indent}l0: &l0 [${Array(10).fill(item).join(", ")}]`];
  for (let i = 1; i <= 9; i++) {
    lines.push(`${indent}l${i}: &l${i} [${Array(10).fill(`*l${i - 1}`).join(", ")}]`);
  }
  return lines.join("\n") + "\n";
}

Deno.test("a YAML alias that holds itself is refused with one line, not a stack overflow", async () => {
  const out = await check({
    "template.yaml": `Transform: AWS::Serverless-2016-10-31
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties: &p
      CodeUri: src/
      Handler: app.handler
      Runtime: nodejs20.x
      Environment: { Variables: { X: *p } }
`,
  });
  assert.equal(out.code, 1, out.stderr);
  assert.equal(
    out.stderr,
    "lrp: invalid configuration: template.yaml: a YAML alias refers to a value that holds it " +
      "(the template would be infinite)\n",
  );
});

Deno.test("a YAML alias bomb is refused within seconds: the template expands to too many values", async () => {
  const out = await check({
    "template.yaml": `Transform: AWS::Serverless-2016-10-31
Metadata:
${laughs("  ")}Resources:
  Fn:
${FUNCTION}      Environment: { Variables: { X: *l9 } }
`,
  });
  assert.equal(out.code, 1, out.stderr);
  assert.equal(
    out.stderr,
    "lrp: invalid configuration: template.yaml: the template expands to more than 1000000 values " +
      "(YAML aliases repeated inside each other?)\n",
  );
  assert.ok(out.ms < 20_000, `took ${out.ms} ms`);
});

Deno.test("a JSON template nested 20,000 deep is refused with one line, not a stack overflow", async () => {
  const deep = '{"Fn::Join":["",['.repeat(20_000) + '"x"' + "]]}".repeat(20_000);
  const out = await check({
    "template.json": JSON.stringify({
      Transform: "AWS::Serverless-2016-10-31",
      Resources: {
        Fn: {
          Type: "AWS::Serverless::Function",
          Properties: { CodeUri: "src/", Handler: "app.handler", Runtime: "nodejs20.x", Environment: "DEEP" },
        },
      },
    }).replace('"DEEP"', `{"Variables":{"X":${deep}}}`),
  });
  assert.equal(out.code, 1, out.stderr);
  assert.equal(
    out.stderr,
    "lrp: invalid configuration: template.json: the template nests deeper than 200 levels\n",
  );
});

Deno.test("Serverless variables that multiply (a ${self:} bomb) are refused within seconds", async () => {
  const lines = ["  l0: [x, x, x, x, x, x, x, x, x, x]"];
  for (let i = 1; i <= 8; i++) {
    lines.push(`  l${i}: [${Array(10).fill(`'\${self:custom.l${i - 1}}'`).join(", ")}]`);
  }
  const out = await check({
    "serverless.yml": `service: s
provider: { name: aws, runtime: nodejs20.x }
custom:
${lines.join("\n")}
functions:
  f: { handler: src/app.handler, environment: { X: '\${self:custom.l8}' }, events: [{ httpApi: "GET /x" }] }
`,
  });
  assert.equal(out.code, 1, out.stderr);
  assert.equal(
    out.stderr,
    "lrp: invalid configuration: serverless.yml: the variables expand to more than 10000000 values and " +
      "characters (variables repeated inside each other?)\n",
  );
  assert.ok(out.ms < 20_000, `took ${out.ms} ms`);
});

Deno.test("Serverless variables that double a string sixteen times are refused, not grown past memory", async () => {
  const lines = [`  s0: ${"x".repeat(100_000)}`];
  for (let i = 1; i <= 16; i++) lines.push(`  s${i}: \${self:custom.s${i - 1}}\${self:custom.s${i - 1}}`);
  const out = await check({
    "serverless.yml": `service: s
provider: { name: aws, runtime: nodejs20.x }
custom:
${lines.join("\n")}
functions:
  f: { handler: src/app.handler, environment: { X: '\${self:custom.s16}' }, events: [{ httpApi: "GET /x" }] }
`,
  });
  assert.equal(out.code, 1, out.stderr);
  assert.equal(
    out.stderr,
    "lrp: invalid configuration: serverless.yml: the variables expand to more than 10000000 values and " +
      "characters (variables repeated inside each other?)\n",
  );
});

Deno.test("several mistakes in the rules a template makes each name the resource, none a line of generated text", async () => {
  const out = await check({
    "template.yaml": `Transform: AWS::Serverless-2016-10-31
Resources:
  Ünïcode:
${FUNCTION}      FunctionUrlConfig: { AuthType: NONE }
`,
  });
  assert.equal(out.code, 1, out.stderr);
  assert.equal(
    out.stderr,
    "lrp: invalid configuration, 2 mistakes:\n" +
      'template.yaml: Resources.Ünïcode on API ServerlessHttpApi: name: "Ünïcode" is not a function name (letters, digits, - _)\n' +
      'template.yaml: Resources.Ünïcode (its Function URL): name: "Ünïcode" is not a function name (letters, digits, - _)\n',
  );
});

Deno.test("names that JavaScript objects inherit (constructor, toString) are no parameter, resource, mapping or variable", async () => {
  for (
    const [value, why] of [
      ["!Ref constructor", "Ref constructor: no parameter or resource of that name"],
      ['!Sub "${toString}"', "Ref toString: no parameter or resource of that name"],
      ["!GetAtt constructor.Arn", "Fn::GetAtt constructor.Arn: no resource constructor in the template"],
      [
        "!FindInMap [constructor, name, length]",
        "Fn::FindInMap: Mappings.constructor.name.length does not exist",
      ],
      ["!If [toString, a, b]", 'condition "toString" is not in the template\'s Conditions'],
    ]
  ) {
    const out = await check({
      "template.yaml": `Transform: AWS::Serverless-2016-10-31
Resources:
  Fn:
${FUNCTION}      Timeout: ${value}
`,
    });
    assert.equal(out.code, 1, `${value}: ${out.stderr}`);
    assert.equal(
      out.stderr,
      `lrp: invalid configuration: template.yaml: Resources.Fn.Properties.Timeout: cannot be resolved locally: ${why}\n`,
    );
  }
  const out = await check({
    "serverless.yml": `service: s
provider: { name: aws, runtime: nodejs20.x }
custom: { a: 1 }
functions:
  f: { handler: src/app.handler, environment: { X: '\${self:custom.constructor}' }, events: [{ httpApi: "GET /x" }] }
`,
  });
  assert.equal(out.code, 0, out.stderr);
  assert.match(
    out.stdout,
    /\n {2}warning: functions\.f\.environment\.X: \$\{self:custom\.constructor\} has no value; the variable is left out\n/,
  );
});

Deno.test("two functions whose Function URLs would share a host name are refused naming both resources", async () => {
  const out = await check({
    "template.yaml": `Transform: AWS::Serverless-2016-10-31
Resources:
  Orders:
${FUNCTION}      FunctionUrlConfig: { AuthType: NONE }
  orders:
${FUNCTION.replace("/x", "/y")}      FunctionUrlConfig: { AuthType: NONE }
`,
  });
  assert.equal(out.code, 1, out.stderr);
  assert.equal(
    out.stderr,
    'lrp: invalid configuration: template.yaml: Resources.orders (its Function URL): hostname: duplicate hostname "orders.localhost" (also Resources.Orders (its Function URL))\n',
  );
});

Deno.test("a YAML alias bomb of long strings (a gigabyte through !Join) is refused, not a crash", async () => {
  const lines = [`  l0: &l0 ["${"x".repeat(1_000_000)}"]`];
  for (let i = 1; i <= 3; i++) lines.push(`  l${i}: &l${i} [${Array(10).fill(`*l${i - 1}`).join(", ")}]`);
  const out = await check({
    "template.yaml": `Transform: AWS::Serverless-2016-10-31
Metadata:
${lines.join("\n")}
Resources:
  Fn:
${FUNCTION}      Environment: { Variables: { X: !Join ["", *l3] } }
`,
  });
  assert.equal(out.code, 1, out.stderr.slice(0, 500));
  assert.equal(
    out.stderr,
    "lrp: invalid configuration: template.yaml: the template expands to more than 67108864 characters " +
      "(YAML aliases repeated inside each other?)\n",
  );
});

Deno.test("InlineCode whose handler names a file outside its folder (../) or in a subfolder is refused before anything is written", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (const handler of [`../../../../../../../..${dir}/pwned.handler`, "sub/app.handler"]) {
      const out = await check({
        "template.yaml": `Transform: AWS::Serverless-2016-10-31
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      InlineCode: "exports.handler = async () => 'pwned'"
      Handler: ${handler}
      Runtime: nodejs20.x
`,
      });
      assert.equal(out.code, 1, out.stderr);
      assert.equal(
        out.stderr,
        `lrp: invalid configuration: template.yaml: Resources.Fn.Properties.Handler: ${
          JSON.stringify(handler)
        }: with InlineCode the handler names a file of the inline code itself, such as index.handler\n`,
      );
    }
    assert.deepEqual([...Deno.readDirSync(dir)], [], "nothing was written outside the inline code's folder");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("${file()} of a device (/dev/zero) or a directory is no value, not an endless read", async () => {
  const out = await check({
    "serverless.yml": `service: s
provider: { name: aws, runtime: nodejs20.x }
functions:
  f: { handler: src/app.handler, environment: { X: '\${file(/dev/zero)}', Y: '\${file(./src)}' }, events: [{ httpApi: "GET /x" }] }
`,
  });
  assert.equal(out.code, 0, out.stderr);
  assert.match(
    out.stdout,
    /\n {2}warning: functions\.f\.environment\.X: \$\{file\(\/dev\/zero\)\}: not a regular file; the variable is left out\n {2}warning: functions\.f\.environment\.Y: \$\{file\(\.\/src\)\}: not a regular file; the variable is left out\n/,
  );
});
