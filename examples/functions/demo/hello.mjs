// lrp demo, hello.localhost: a structured payload 2.0 result with a cookie.
// Lambda Node.js handlers are async functions (the runtime awaits their result).
// deno-lint-ignore require-await
export const handler = async (event) => {
  const name = event.queryStringParameters?.name ?? "world";
  return {
    statusCode: 200,
    headers: { "content-type": "text/plain; charset=utf-8" },
    cookies: ["visited=1; Path=/"],
    body: `Hello, ${name}! (from a Lambda handler, through lrp)\n`,
  };
};
