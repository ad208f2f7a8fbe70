import assert from "node:assert/strict";
import { labelSamples, mergeExpositions } from "../../lib/obs/metrics_merge.ts";

Deno.test("labelSamples() puts the label first in every sample, with or without labels, and escapes its value", () => {
  const text = [
    "# HELP a_total Things",
    "# TYPE a_total counter",
    'a_total{route="x y{"} 3',
    "b 1",
    "c{} 2",
    "",
  ].join("\n");
  assert.equal(
    labelSamples(text, "worker", 'w"1'),
    [
      "# HELP a_total Things",
      "# TYPE a_total counter",
      'a_total{worker="w\\"1",route="x y{"} 3',
      'b{worker="w\\"1"} 1',
      'c{worker="w\\"1"} 2',
      "",
    ].join("\n"),
  );
});

Deno.test("mergeExpositions() keeps one HELP and TYPE per family and every text's samples together", () => {
  const one = '# HELP a A\n# TYPE a counter\na{worker="1"} 1\n# HELP b B\n# TYPE b gauge\n';
  const two = '# HELP b B\n# TYPE b gauge\nb{worker="2"} 5\n# HELP a A\n# TYPE a counter\na{worker="2"} 2\n';
  const supervisor = "# HELP c C\n# TYPE c gauge\nc 2\n";
  assert.equal(
    mergeExpositions([one, two, supervisor]),
    '# HELP a A\n# TYPE a counter\na{worker="1"} 1\na{worker="2"} 2\n' +
      '# HELP b B\n# TYPE b gauge\nb{worker="2"} 5\n' +
      "# HELP c C\n# TYPE c gauge\nc 2\n",
  );
  assert.equal(mergeExpositions([]), "");
});
