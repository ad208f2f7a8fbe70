// The $default route: every request no other route matches.
// deno-lint-ignore require-await
export const handler = async (event) => ({
  statusCode: 404,
  headers: { "content-type": "application/json" },
  body: JSON.stringify({
    routeKey: event.routeKey,
    path: event.rawPath,
    function: process.env.AWS_LAMBDA_FUNCTION_NAME,
  }),
});
