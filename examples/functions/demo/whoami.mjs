// lrp demo, whoami.localhost: what the handler's context and process say. The same process
// answers again while it is warm (see the pid); the demo runs it with node, or deno without node.
// deno-lint-ignore require-await
export const handler = async (event, context) => {
  const name = event.queryStringParameters?.name ?? "world";
  const runtime = globalThis.Deno ? `deno ${globalThis.Deno.version.deno}` : `node ${process.version}`;
  return {
    statusCode: 200,
    headers: { "content-type": "text/plain; charset=utf-8" },
    body: `Hello, ${name}! (${context.functionName} in ${runtime}, pid ${process.pid})\n`,
  };
};
