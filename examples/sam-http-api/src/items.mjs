// GET /items/{id} and POST /items, on an HTTP API (payload 2.0).
// deno-lint-ignore require-await
export const handler = async (event) => {
  const body = {
    routeKey: event.routeKey,
    id: event.pathParameters?.id ?? null,
    stage: event.requestContext.stage,
    rawPath: event.rawPath,
    table: process.env.TABLE,
    stageVariables: event.stageVariables ?? null,
    received: event.body
      ? JSON.parse(event.isBase64Encoded ? Buffer.from(event.body, "base64").toString() : event.body)
      : null,
  };
  return {
    statusCode: event.requestContext.http.method === "POST" ? 201 : 200,
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  };
};
