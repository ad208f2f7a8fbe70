// GET /orders/{id} and POST /orders on the service's HTTP API (payload 2.0).
// deno-lint-ignore require-await
export const handler = async (event, context) => ({
  statusCode: 200,
  headers: { "content-type": "application/json" },
  body: JSON.stringify({
    routeKey: event.routeKey,
    id: event.pathParameters?.id ?? null,
    stage: event.requestContext.stage,
    table: process.env.TABLE,
    greeting: process.env.GREETING,
    service: process.env.SERVICE,
    region: process.env.REGION,
    awsRegion: process.env.AWS_REGION,
    function: context.functionName,
    timeoutMs: Number(process.env.AWS_LAMBDA_FUNCTION_TIMEOUT) * 1000,
  }),
});
