// GET and DELETE /users/{id} on a REST API (payload 1.0).
exports.handler = async (event) => {
  await Promise.resolve();
  return {
    statusCode: event.httpMethod === "DELETE" ? 204 : 200,
    headers: { "content-type": "application/json" },
    body: event.httpMethod === "DELETE" ? "" : JSON.stringify({
      resource: event.resource,
      path: event.path,
      requestPath: event.requestContext.path,
      stage: event.requestContext.stage,
      id: event.pathParameters.id,
      stageVariables: event.stageVariables,
      app: process.env.APP,
      logLevel: process.env.LOG_LEVEL,
    }),
  };
};
