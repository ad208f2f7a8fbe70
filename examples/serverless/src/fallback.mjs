// The HTTP API's $default route ("*").
// deno-lint-ignore require-await
export const handler = async (event) => ({
  statusCode: 404,
  headers: { "content-type": "application/json" },
  body: JSON.stringify({ routeKey: event.routeKey, path: event.rawPath }),
});
