"""lrp's bundled Python 3 runtime client, run with `python3 -u` for `runtime: python`.

A separate program: lrp embeds this file's text through `generated.ts` and writes it to a
temporary folder. It loads `_HANDLER` as `MODULE.FUNCTION` (MODULE may be dotted, relative to
`LAMBDA_TASK_ROOT`), calls `handler(event, context)` with a context shaped like Lambda's, and
reports errors as Lambda's Python runtime does (`errorMessage`, `errorType`, `requestId`,
`stackTrace`).
"""
import http.client
import importlib
import json
import os
import sys
import time
import traceback

# AWS_LAMBDA_RUNTIME_API is host:port, or host:port/KEY where lrp serves the API under a private path.
API, _, KEY = os.environ["AWS_LAMBDA_RUNTIME_API"].partition("/")
BASE = ("/" + KEY if KEY else "") + "/2018-06-01/runtime"
conn = None


def call(method, path, body=None, headers=None):
    global conn
    for attempt in (0, 1):
        if conn is None:
            conn = http.client.HTTPConnection(API)
        try:
            conn.request(method, BASE + path, body=body, headers=headers or {})
            res = conn.getresponse()
            return res.status, dict((k.lower(), v) for k, v in res.getheaders()), res.read()
        except (http.client.HTTPException, ConnectionError):
            conn.close()
            conn = None
            if attempt == 1:
                raise


def error_of(exc, request_id=None):
    out = {
        "errorMessage": str(exc),
        "errorType": type(exc).__name__,
        "requestId": request_id or "",
        "stackTrace": [line.rstrip("\n") for line in traceback.format_tb(exc.__traceback__)],
    }
    return out


def post_error(path, err):
    body = json.dumps(err)
    sys.stderr.write("[ERROR] " + body + "\n")
    call("POST", path, body.encode(), {
        "content-type": "application/json",
        "lambda-runtime-function-error-type": err["errorType"],
    })


class Context:
    def __init__(self, headers):
        self.aws_request_id = headers.get("lambda-runtime-aws-request-id")
        self.invoked_function_arn = headers.get("lambda-runtime-invoked-function-arn")
        self._deadline = int(headers.get("lambda-runtime-deadline-ms", "0"))
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        cognito = headers.get("lambda-runtime-cognito-identity")
        client = headers.get("lambda-runtime-client-context")
        self.identity = json.loads(cognito) if cognito else None
        self.client_context = json.loads(client) if client else None

    def get_remaining_time_in_millis(self):
        return max(self._deadline - int(time.time() * 1000), 0)


def load():
    spec = os.environ.get("_HANDLER", "")
    module_name, _, name = spec.rpartition(".")
    if not module_name:
        raise ValueError("Bad handler " + spec)
    root = os.environ.get("LAMBDA_TASK_ROOT", os.getcwd())
    sys.path.insert(0, root)
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as exc:
        raise type("Runtime.ImportModuleError", (Exception,), {})(
            "Unable to import module '" + module_name + "': " + str(exc))
    except SyntaxError as exc:
        raise type("Runtime.UserCodeSyntaxError", (Exception,), {})(
            "%s:%s:%s: SyntaxError: %s" % (exc.filename, exc.lineno, exc.offset, exc.msg))
    fn = getattr(module, name, None)
    if not callable(fn):
        raise type("Runtime.HandlerNotFound", (Exception,), {})("Handler '" + name + "' missing on module '" + module_name + "'")
    return fn


try:
    handler = load()
except Exception as exc:
    try:
        post_error("/init/error", error_of(exc))
    finally:
        sys.exit(1)

while True:
    try:
        status, headers, body = call("GET", "/invocation/next")
    except Exception as exc:
        sys.stderr.write("lrp runtime client: the Runtime API is gone (" + str(exc) + "); exiting\n")
        sys.exit(1)
    if status != 200:
        sys.stderr.write("lrp runtime client: invocation/next answered " + str(status) + "; exiting\n")
        sys.exit(1)
    request_id = headers.get("lambda-runtime-aws-request-id")
    trace = headers.get("lambda-runtime-trace-id")
    if trace:
        os.environ["_X_AMZN_TRACE_ID"] = trace
    else:
        os.environ.pop("_X_AMZN_TRACE_ID", None)
    try:
        event = json.loads(body)
        result = handler(event, Context(headers))
        payload = json.dumps(result).encode()
    except Exception as exc:
        post_error("/invocation/" + request_id + "/error", error_of(exc, request_id))
        continue
    call("POST", "/invocation/" + request_id + "/response", payload, {"content-type": "application/json"})
