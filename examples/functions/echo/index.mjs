// Returns the event lrp sent: an object without statusCode, which Lambda's
// Function URL (and lrp) answers as 200 application/json.
// Lambda Node.js handlers are async functions (the runtime awaits their result).
// deno-lint-ignore require-await
export const handler = async (event) => event;
