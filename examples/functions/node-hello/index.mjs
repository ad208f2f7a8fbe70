// A Node.js handler that lrp runs itself (runtime: nodejs): no Docker, no RIE.
// deno-lint-ignore require-await
export const handler = async (event, context) => {
  const name = event.queryStringParameters?.name ?? "world";
  const where = `${context.functionName} in node ${process.version}, pid ${process.pid}`;
  return {
    statusCode: 200,
    headers: { "content-type": "text/plain; charset=utf-8" },
    body: `Hello, ${name}! (${where})\n`,
  };
};
