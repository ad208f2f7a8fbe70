"""lrp's bundled Python 3 runtime client, run with `python3 -u` for `runtime: python`.

A separate program: lrp embeds this file's text through `generated.ts` and writes it to a
temporary folder. It loads `_HANDLER` as `MODULE.FUNCTION` (MODULE may be dotted, relative to
`LAMBDA_TASK_ROOT`), calls `handler(event, context)` with a context shaped like Lambda's, and
reports errors as Lambda's Python runtime does (`errorMessage`, `errorType`, `requestId`,
`stackTrace`).
"""
import http.client
import importlib
import io
import json
import os
import socket
import struct
import subprocess
import sys
import threading
import time
import traceback

# AWS_LAMBDA_RUNTIME_API is host:port, or host:port/KEY where lrp serves the API under a private path.
API, _, KEY = os.environ["AWS_LAMBDA_RUNTIME_API"].partition("/")
BASE = ("/" + KEY if KEY else "") + "/2018-06-01/runtime"
conn = None
# lrp's private channel (lib/runtime/channel.ts): the socket's path, taken out of the handler's environment.
CHANNEL = os.environ.pop("LRP_RUNTIME_CHANNEL", None)
CHANNEL_MAX = 1024 * 1024
OUTPUT_MAX = CHANNEL_MAX - 16
chan = None
os_write = os.write


def frame(kind, body=b""):
    return struct.pack(">IB", 1 + len(body), kind) + body


class Channel:
    """Frames of a u32 length (big-endian, of what follows) and a kind byte, on a blocking Unix socket.

    It carries `next`, the buffered answers up to CHANNEL_MAX (the answer and the next `next` in one
    write) and the handler's output; errors and larger answers go over the Runtime API.
    """

    def __init__(self, sock):
        self.sock = sock
        self.buf = bytearray()
        self.closed = False
        self.told_pipes = False
        self.lock = threading.Lock()

    def send(self, data):
        # One frame at a time: sendall lets go of the GIL, and a frame cut by another thread's would
        # break the stream.
        with self.lock:
            if self.closed:
                return False
            try:
                self.sock.sendall(data)
                return True
            except OSError:
                self.closed = True
                return False
            except BaseException:
                # Cut mid-frame (a signal handler raising): what follows could not be read in line.
                self.closed = True
                self.sock.close()
                raise

    def next(self, before=b""):
        if not self.send(before + frame(2)):
            raise ConnectionError("lrp closed the channel")
        while True:
            if len(self.buf) >= 4:
                size = struct.unpack_from(">I", self.buf)[0]
                if len(self.buf) >= 4 + size:
                    body = bytes(self.buf[5:4 + size])
                    del self.buf[:4 + size]
                    head = struct.unpack_from(">H", body)[0]
                    rid, deadline, arn, trace = body[2:2 + head].decode().split("\n")
                    headers = {
                        "lambda-runtime-aws-request-id": rid,
                        "lambda-runtime-deadline-ms": deadline,
                        "lambda-runtime-invoked-function-arn": arn,
                    }
                    if trace:
                        headers["lambda-runtime-trace-id"] = trace
                    return 200, headers, body[2 + head:]
            chunk = self.sock.recv(65536)
            if not chunk:
                self.closed = True
                raise ConnectionError("lrp closed the channel")
            self.buf += chunk


def open_channel():
    try:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(CHANNEL)
    except OSError:
        return None
    c = Channel(sock)
    return c if c.send(frame(1, KEY.encode("latin-1"))) else None


class ChannelOutput(io.RawIOBase):
    """sys.stdout's and sys.stderr's bytes (and os.write's on 1 and 2), as OUTPUT frames while the channel
    is open, else to the pipe.

    So print and logging come in order with the answers, as AWS's clients send their output to a
    telemetry descriptor: lrp files each line under its invocation without waiting for the pipes.
    """

    def __init__(self, fd):
        super().__init__()
        self.fd = fd

    def writable(self):
        return True

    def fileno(self):
        return self.fd

    def write(self, b):
        data = bytes(b)
        if chan is not None and not chan.closed:
            for at in range(0, len(data), OUTPUT_MAX):
                if not chan.send(frame(4, bytes([self.fd]) + data[at:at + OUTPUT_MAX])):
                    return at + self.to_pipe(data[at:])
            return len(data)
        return self.to_pipe(data)

    def to_pipe(self, data):
        view = memoryview(data)
        while view:
            view = view[os_write(self.fd, view):]
        return len(data)


def tell_pipes(*_):
    """Output may take the pipes from now on (a child process): lrp then waits for them to settle."""
    if chan is not None and not chan.told_pipes and chan.send(frame(5)):
        chan.told_pipes = True


def forked_child():
    """A forked child shares the channel's socket but is not the runtime: its output takes the pipes."""
    if chan is not None:
        chan.closed = True
        chan.lock = threading.Lock()


def divert_output():
    raw = {1: ChannelOutput(1), 2: ChannelOutput(2)}
    sys.stdout = io.TextIOWrapper(raw[1], encoding=sys.stdout.encoding,
                                  errors=sys.stdout.errors, write_through=True)
    sys.stderr = io.TextIOWrapper(raw[2], encoding=sys.stderr.encoding,
                                  errors=sys.stderr.errors, write_through=True)

    def write(fd, data):
        # os.write on descriptors 1 and 2 goes the same way, whole (a pipe's write would be too).
        return raw[fd].write(data) if fd in raw and chan is not None and not chan.closed else os_write(fd, data)

    os.write = write
    popen_init = subprocess.Popen.__init__

    def init(self, *args, **kwargs):
        tell_pipes()
        popen_init(self, *args, **kwargs)

    subprocess.Popen.__init__ = init
    os.register_at_fork(before=tell_pipes, after_in_child=forked_child)
    try:
        import _posixsubprocess  # multiprocessing's spawn and forkserver start processes through it

        fork_exec = _posixsubprocess.fork_exec
        _posixsubprocess.fork_exec = lambda *a, **k: (tell_pipes(), fork_exec(*a, **k))[1]
    except (ImportError, AttributeError):
        pass
    for name in ("system", "posix_spawn", "posix_spawnp"):
        start = getattr(os, name, None)
        if start is not None:
            setattr(os, name, (lambda start: lambda *a, **k: (tell_pipes(), start(*a, **k))[1])(start))


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


# Before the handler's module loads: its code never sees the socket, its output at import comes in order,
# and a logging handler it sets up takes the diverted stderr.
if CHANNEL and KEY:
    chan = open_channel()
if chan is not None:
    divert_output()
try:
    handler = load()
except Exception as exc:
    try:
        post_error("/init/error", error_of(exc))
    finally:
        sys.exit(1)

answer = b""
while True:
    try:
        status, headers, body = chan.next(answer) if chan is not None else call("GET", "/invocation/next")
        answer = b""
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
    rid = request_id.encode("latin-1")
    if chan is not None and len(payload) <= CHANNEL_MAX and len(rid) < 256:
        # Over the channel the answer leaves with the next `next`, in one write.
        answer = frame(3, bytes([len(rid)]) + rid + payload)
        continue
    call("POST", "/invocation/" + request_id + "/response", payload, {"content-type": "application/json"})
