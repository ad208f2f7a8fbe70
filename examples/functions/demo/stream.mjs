// lrp demo, stream.localhost: a streaming handler. `awslambda` is the global Lambda's Node.js
// runtime (and lrp's bundled clients) provide; the prelude carries the status, headers and cookies.
export const handler = awslambda.streamifyResponse(async (_event, responseStream) => {
  const stream = awslambda.HttpResponseStream.from(responseStream, {
    statusCode: 200,
    headers: { "content-type": "text/plain" },
    cookies: ["streamed=yes"],
  });
  for (const n of [1, 2, 3]) {
    stream.write(`chunk ${n}\n`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  stream.end();
});
