/**
 * CloudFormation's short tags as long forms, and the intrinsic functions
 * resolved locally: each function's result, `AWS::NoValue`, conditions,
 * and the messages for what cannot be known without AWS.
 */
import assert from "node:assert/strict";
import { ConfigError } from "../../lib/config/types.ts";
import {
  type CfnScope,
  condition,
  NO_VALUE,
  pseudoParameters,
  resolveValue,
  Unresolvable,
} from "../../lib/templates/intrinsics.ts";
import { parseTemplateText } from "../../lib/templates/yaml.ts";

function scope(extra: Partial<CfnScope> = {}): CfnScope {
  return {
    parameters: { ...pseudoParameters("eu-west-1"), Env: "dev", Subnets: ["s-1", "s-2"] },
    unset: new Set(["Secret"]),
    resources: { Fn: "AWS::Serverless::Function", Table: "AWS::DynamoDB::Table" },
    mappings: { Sizes: { dev: { Memory: 256 }, prod: { Memory: 1024 } } },
    conditions: {
      IsDev: { "Fn::Equals": [{ Ref: "Env" }, "dev"] },
      IsProd: { "Fn::Not": [{ Condition: "IsDev" }] },
    },
    region: "eu-west-1",
    accountId: "123456789012",
    ...extra,
  };
}

Deno.test("short tags load as their long forms; !GetAtt's scalar splits at the first dot", () => {
  const text = `
A: !Ref X
B: !GetAtt Fn.Arn.Deep
C: !Sub "\${AWS::Region}-x"
D: !If [IsProd, !Ref A, !Join ["", [a, !Ref B]]]
E: !Sub
  - "\${a}"
  - a: !Ref Q
F: !GetAtt [A, B]
G: !Equals [!Ref X, 1]
H: !Condition IsDev
I: !Base64 text
J: !FindInMap [M, a, b]
K: !Select [0, !Split [",", "a,b"]]
`;
  assert.deepEqual(parseTemplateText(text, "t.yaml"), {
    A: { Ref: "X" },
    B: { "Fn::GetAtt": ["Fn", "Arn.Deep"] },
    C: { "Fn::Sub": "${AWS::Region}-x" },
    D: { "Fn::If": ["IsProd", { Ref: "A" }, { "Fn::Join": ["", ["a", { Ref: "B" }]] }] },
    E: { "Fn::Sub": ["${a}", { a: { Ref: "Q" } }] },
    F: { "Fn::GetAtt": ["A", "B"] },
    G: { "Fn::Equals": [{ Ref: "X" }, 1] },
    H: { Condition: "IsDev" },
    I: { "Fn::Base64": "text" },
    J: { "Fn::FindInMap": ["M", "a", "b"] },
    K: { "Fn::Select": [0, { "Fn::Split": [",", "a,b"] }] },
  });
});

Deno.test("a JSON template parses as JSON; neither YAML nor JSON and unknown tags are errors naming the line", () => {
  assert.deepEqual(parseTemplateText('{"Resources": {"A": {"Ref": "X"}}}', "t.json"), {
    Resources: { A: { Ref: "X" } },
  });
  assert.throws(() => parseTemplateText("a: [1\n b", "bad.yaml"), (e: Error) => {
    assert.ok(e instanceof ConfigError);
    assert.equal(e.message.startsWith("bad.yaml:2: neither YAML nor JSON: "), true);
    return true;
  });
  assert.throws(() => parseTemplateText("a: 1\nb: !Nope x", "u.yaml"), (e: Error) => {
    assert.equal(
      e.message.startsWith("u.yaml:2: unknown tag: !Nope (CloudFormation's short forms: !Ref, "),
      true,
    );
    return true;
  });
});

Deno.test("Ref gives parameters, pseudo parameters and resources' logical ids; AWS::NoValue removes the key", () => {
  const s = scope();
  assert.deepEqual(
    resolveValue({
      env: { Ref: "Env" },
      region: { Ref: "AWS::Region" },
      account: { Ref: "AWS::AccountId" },
      stack: { Ref: "AWS::StackName" },
      partition: { Ref: "AWS::Partition" },
      suffix: { Ref: "AWS::URLSuffix" },
      table: { Ref: "Table" },
      subnets: { Ref: "Subnets" },
      gone: { Ref: "AWS::NoValue" },
      list: ["a", { Ref: "AWS::NoValue" }, "b"],
    }, s),
    {
      env: "dev",
      region: "eu-west-1",
      account: "123456789012",
      stack: "local",
      partition: "aws",
      suffix: "amazonaws.com",
      table: "Table",
      subnets: ["s-1", "s-2"],
      list: ["a", "b"],
    },
  );
  assert.equal(resolveValue({ Ref: "AWS::NoValue" }, s), NO_VALUE);
});

Deno.test("Fn::Sub substitutes parameters, pseudo parameters, resources, its own variables and Arn attributes; ${!x} is literal", () => {
  const s = scope();
  assert.equal(
    resolveValue({ "Fn::Sub": "${AWS::StackName}-${Env}-${Table}-${!Literal}-${Fn.Arn}" }, s),
    "local-dev-Table-${Literal}-arn:aws:lambda:eu-west-1:123456789012:function:Fn",
  );
  assert.equal(
    resolveValue({ "Fn::Sub": ["${a}/${Env}", { a: { Ref: "AWS::Region" } }] }, s),
    "eu-west-1/dev",
  );
});

Deno.test("Join, Split, Select, FindInMap, If, Equals, And, Or, Not, Base64, GetAZs, Length, ToJsonString resolve", () => {
  const s = scope();
  const r = (v: unknown) => resolveValue(v, s);
  assert.equal(r({ "Fn::Join": ["-", ["a", { Ref: "Env" }, 3]] }), "a-dev-3");
  assert.deepEqual(r({ "Fn::Split": [",", "a,b,c"] }), ["a", "b", "c"]);
  assert.equal(r({ "Fn::Select": [1, { "Fn::Split": [",", "a,b,c"] }] }), "b");
  assert.equal(r({ "Fn::FindInMap": ["Sizes", { Ref: "Env" }, "Memory"] }), 256);
  assert.equal(r({ "Fn::If": ["IsDev", "yes", "no"] }), "yes");
  assert.equal(r({ "Fn::If": ["IsProd", "yes", { Ref: "AWS::NoValue" }] }), NO_VALUE);
  assert.equal(r({ "Fn::Equals": ["1", 1] }), true);
  assert.equal(r({ "Fn::And": [{ Condition: "IsDev" }, { "Fn::Not": [{ Condition: "IsProd" }] }] }), true);
  assert.equal(r({ "Fn::Or": [{ Condition: "IsProd" }, false] }), false);
  assert.equal(r({ "Fn::Base64": "héllo" }), "aMOpbGxv");
  assert.deepEqual(r({ "Fn::GetAZs": "" }), ["eu-west-1a", "eu-west-1b", "eu-west-1c"]);
  assert.equal(r({ "Fn::Length": [1, 2, 3] }), 3);
  assert.equal(r({ "Fn::ToJsonString": { a: { Ref: "Env" } } }), '{"a":"dev"}');
  assert.equal(condition("IsProd", s), false);
});

Deno.test("what cannot be known locally is an Unresolvable saying what is missing, never the parameter's name or an empty string", () => {
  const s = scope({ conditions: { Loop: { Condition: "Loop" } } });
  const cases: [unknown, string][] = [
    [
      { Ref: "Secret" },
      "parameter Secret has no value: give it a Default or pass --parameter-overrides Secret=VALUE",
    ],
    [{ Ref: "Nothing" }, "Ref Nothing: no parameter or resource of that name"],
    [
      { "Fn::GetAtt": ["Table", "StreamArn"] },
      "Fn::GetAtt Table.StreamArn (AWS::DynamoDB::Table) is only known once deployed",
    ],
    [
      { "Fn::Sub": "${Table.Arn}" },
      "Fn::GetAtt Table.Arn (AWS::DynamoDB::Table) is only known once deployed",
    ],
    [
      { "Fn::ImportValue": "shared-vpc" },
      'Fn::ImportValue "shared-vpc" is another stack\'s output, which lrp cannot read locally',
    ],
    [
      { "Fn::FindInMap": ["Sizes", "qa", "Memory"] },
      "Fn::FindInMap: Mappings.Sizes.qa.Memory does not exist",
    ],
    [{ "Fn::If": ["Loop", 1, 2] }, "condition Loop depends on itself"],
    [{ "Fn::If": ["Missing", 1, 2] }, 'condition "Missing" is not in the template\'s Conditions'],
  ];
  for (const [value, message] of cases) {
    assert.throws(() => resolveValue(value, s), (e: Error) => {
      assert.ok(e instanceof Unresolvable, String(e));
      assert.equal(e.message, message);
      return true;
    });
  }
});

Deno.test("pseudo parameters follow the region's partition", () => {
  assert.deepEqual(pseudoParameters("cn-north-1")["AWS::Partition"], "aws-cn");
  assert.deepEqual(pseudoParameters("cn-north-1")["AWS::URLSuffix"], "amazonaws.com.cn");
  assert.deepEqual(pseudoParameters("us-gov-west-1")["AWS::Partition"], "aws-us-gov");
});
