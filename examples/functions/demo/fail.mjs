// lrp demo, fail.localhost: a handler that throws; lrp answers 502 function_error.
// deno-lint-ignore require-await
export const handler = async () => {
  throw new Error("this handler always fails");
};
