// lrp demo, echo.localhost: answers with the payload 2.0 event lrp sent, as indented JSON.
// deno-lint-ignore require-await
export const handler = async (event) => ({
  statusCode: 200,
  headers: { "content-type": "application/json" },
  body: JSON.stringify(event, null, 2) + "\n",
});
