"""Run a rotation handler's four steps in this process, as a Lambda container would.

Started by ``bench/compare.py`` (never by hand) with the interpreter and ``sys.path`` of the
handler's own environment: the rotor layer, or the reference's virtualenv. Standard library
only, so it runs in either. The parent starts each rotation (RotateSecret on moto) and counts
Secrets Manager calls on the server; this process imports the handler, invokes the steps and
counts database connections by wrapping the driver's connect function.

    python child.py HANDLER_FILE:ATTR cold ARN TOKEN [--pre MODULE[:FUNC]]...
    python child.py HANDLER_FILE:ATTR warm          (then one JSON {"arn", "token"} a line)

Results go, one JSON object a line, to the file descriptor named by ``BENCH_FD``; stdout and
stderr are the handler's (its logs and metrics), which the parent discards.
"""

import sys
import time

T0 = time.perf_counter()  # CLOCK_MONOTONIC on Linux: comparable with the parent's clock

# Only what a handler imports anyway (importlib.abc and uuid would cost ~40 ms more).
import importlib  # noqa: E402 - after T0 on purpose
import json  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402

STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")
GC = {"ms": 0.0, "collections": 0, "started": 0.0}


def _gc_timer(phase, info):
    """Time spent in the cyclic garbage collector (BENCH_GC=1)."""
    if phase == "start":
        GC["started"] = time.perf_counter()
    else:
        GC["ms"] += (time.perf_counter() - GC["started"]) * 1000
        GC["collections"] += 1


if os.environ.get("BENCH_GC") == "1":
    import gc

    gc.callbacks.append(_gc_timer)
COUNTS = {"connections": 0, "failed": 0}
# Where each driver opens a connection: module -> attribute path of the function to wrap.
# psycopg and PyGreSQL are called through the module attribute; PyMySQL's Connection.connect
# is what both pymysql.connect() (AWS's samples) and defer_connect + connect() (rotor) reach.
TARGETS = {
    "psycopg": ("connect",),
    "pgdb": ("connect",),
    "pymysql.connections": ("Connection", "connect"),
}


def _counting(function):
    def wrapper(*args, **kwargs):
        COUNTS["connections"] += 1
        try:
            return function(*args, **kwargs)
        except BaseException:
            COUNTS["failed"] += 1
            raise

    wrapper.__wrapped__ = function
    return wrapper


def _patch(module, path):
    owner = module
    for name in path[:-1]:
        owner = getattr(owner, name)
    original = getattr(owner, path[-1])
    if not hasattr(original, "__wrapped__"):
        setattr(owner, path[-1], _counting(original))


class _ConnectCounter:
    """Wraps a driver's connect function as soon as the driver is imported, whenever that is
    (rotor imports its drivers on first use): importing them here first would add their import
    time to the handler's."""

    def find_spec(self, name, path, target=None):
        if name not in TARGETS:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                break
        else:
            return None
        loader, attribute = spec.loader, TARGETS[name]
        original = loader.exec_module

        def exec_module(module):
            original(module)
            _patch(module, attribute)

        loader.exec_module = exec_module
        return spec


class Context:
    """Enough of a Lambda context object for either handler."""

    function_name = "rotor-bench"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:rotor-bench"
    function_version = "$LATEST"
    log_group_name = "/aws/lambda/rotor-bench"
    log_stream_name = "bench"

    def __init__(self):
        hexa = os.urandom(16).hex()
        self.aws_request_id = f"{hexa[:8]}-{hexa[8:12]}-{hexa[12:16]}-{hexa[16:20]}-{hexa[20:]}"
        self.deadline = time.monotonic() + 900

    def get_remaining_time_in_millis(self):
        return int((self.deadline - time.monotonic()) * 1000)


def ms(start, end):
    return round((end - start) * 1000, 3)


def load(spec):
    """Import ``dir/module.py:attr`` as Lambda does: the directory first on sys.path."""
    target, _, attr = spec.rpartition(":")
    directory, filename = os.path.split(os.path.abspath(target))
    sys.path.insert(0, directory)
    module = importlib.import_module(filename.removesuffix(".py"))
    return getattr(module, attr)


def rotate(handler, arn, token):
    """The four steps once; stops at the first failure (the parent reports it)."""
    COUNTS.update(connections=0, failed=0)
    steps = []
    for step in STEPS:
        event = {"Step": step, "SecretId": arn, "ClientRequestToken": token}
        print(f"BENCH-PHASE {step}", file=sys.stderr, flush=True)
        started = time.perf_counter()
        error = None
        try:
            handler(event, Context())
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
        steps.append({"step": step, "ms": ms(started, time.perf_counter()), "error": error})
        if error is not None:
            break
    return {
        "steps": steps,
        "connections": COUNTS["connections"],
        "failed_connections": COUNTS["failed"],
        "done": time.perf_counter(),
        "gc_ms": round(GC["ms"], 3),
        "gc_collections": GC["collections"],
    }


def main():
    out = os.fdopen(int(os.environ["BENCH_FD"]), "w")
    handler_spec, mode, *rest = sys.argv[1:]
    here = os.path.dirname(os.path.abspath(__file__))
    if sys.path and os.path.abspath(sys.path[0]) == here:  # bench/ is no Lambda directory
        del sys.path[0]
    if "--pre" in rest:
        sys.path.append(here)  # bench/probes.py, last
    sys.meta_path.insert(0, _ConnectCounter())
    # What the Lambda runtime does before importing a handler: a handler on the root logger,
    # so INFO records are formatted and written (to CloudWatch there, to /dev/null here).
    root = logging.getLogger()
    root.addHandler(logging.StreamHandler(sys.stdout))
    root.setLevel(logging.INFO)
    ready = time.perf_counter()
    print("BENCH-PHASE import", file=sys.stderr, flush=True)
    handler = load(handler_spec)
    imported = time.perf_counter()
    result = {"t0": T0, "setup_ms": ms(T0, ready), "import_ms": ms(ready, imported)}
    if mode == "cold":
        arn, token, *extra = rest
        pre = []
        for name in extra[1::2]:  # --pre MODULE[:FUNC], timed one by one before the steps
            print(f"BENCH-PHASE pre {name}", file=sys.stderr, flush=True)
            started = time.perf_counter()
            module_name, _, function = name.partition(":")
            module = importlib.import_module(module_name)
            if function:
                getattr(module, function)()
            pre.append({"name": name, "ms": ms(started, time.perf_counter())})
        result.update(rotate(handler, arn, token), pre=pre)
        out.write(json.dumps(result) + "\n")
        out.flush()
        return
    out.write(json.dumps({**result, "ready": True}) + "\n")
    out.flush()
    for line in sys.stdin:
        request = json.loads(line)
        out.write(json.dumps(rotate(handler, request["arn"], request["token"])) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
