"""plateflow's Python worker: runs user functions on image stacks for a Node parent.

Started by plateflow (src/python/process.ts), never by hand:

    python -u plateflow_bridge.py --parent-pid PID [--arena-fd 5]

Channels (inherited file descriptors; stdin/stdout stay free for user code, stdout goes to the
parent's stderr):

    fd 3   requests, one JSON object per line, from the parent
    fd 4   replies, one JSON object per line, to the parent
    fd 5   the arena: a shared-memory file the parent created and already unlinked

Pixels never go through the pipes. The parent writes a stack's bytes into the arena and sends its
offset, dtype and shape; this process maps the arena once (again only when the file has grown),
wraps the bytes as a numpy array without copying, calls the function, and leaves the result in
the arena (the result itself when it already lies there, else a copy placed after the input):

    arena file   [ input stack | pad to 64 | output stack | ...grows as needed ]

Needs only the standard library and numpy (imported on first use, so start-up stays fast).
Written for Python 3.8 or newer; older interpreters get a one-line message and exit code 3.
"""
import json
import os
import signal
import sys

if sys.version_info < (3, 8):
    sys.stderr.write("plateflow needs Python 3.8 or newer; %s is Python %s\n" % (sys.executable, sys.version.split()[0]))
    sys.exit(3)

import importlib
import importlib.machinery
import importlib.util
import mmap
import traceback

REQUEST_FD = 3
REPLY_FD = 4
ALIGN = 64
# The file grows in whole MiB so stacks of slightly different sizes do not remap on every call.
GROW_STEP = 1 << 20

# plateflow's pixel types (src/image.ts).
NATIVE = ("uint8", "int8", "uint16", "int16", "uint32", "int32", "float32", "float64")
INT32_MIN, INT32_MAX = -(2 ** 31), 2 ** 31 - 1

_numpy = None


def numpy():
    global _numpy
    if _numpy is None:
        import numpy as np

        _numpy = np
    return _numpy


class Failure(Exception):
    """A reply with ok=false: `kind` is load, raised, result or bridge (see src/python/protocol.ts)."""

    def __init__(self, kind, report):
        Exception.__init__(self, report.get("message", ""))
        self.kind = kind
        self.report = report


def result_failure(message, array=None):
    report = {"message": message}
    if array is not None:
        report["shape"] = list(array.shape)
        report["dtype"] = str(array.dtype)
    return Failure("result", report)


# --- Process hygiene ---------------------------------------------------------------------------


def guard_parent(parent_pid):
    """Die with the parent: the kernel sends SIGKILL when the thread that spawned us ends (Linux)."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            PR_SET_PDEATHSIG = 1
            ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):
            pass
    # The parent may have died before prctl took effect: then nobody will ever signal us.
    if os.getppid() != parent_pid:
        os._exit(0)


# glibc hands freed blocks of a few MiB back to the kernel (it trims the top of the heap past twice
# the largest block freed so far), so the arrays a function allocates afresh on every call are
# faulted in again, page by page, on every call: ~1,600-2,100 faults, 4-10 ms of the 45-60 ms of
# CPU of bench/python_steps.py's chain on 4 x 512^2 planes. Freed memory is kept for the next call instead, within bounds:
# blocks of 32 MiB or more are still mapped on their own, and at most 64 MiB of free memory stays at
# the heap top. A user who set these (MALLOC_*_ or GLIBC_TUNABLES) keeps their settings.
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
KEEP_FREED_BYTES, OWN_MAPPING_BYTES = 64 << 20, 32 << 20
MALLOC_SETTINGS = ("trim_threshold", "mmap_threshold", "top_pad", "mmap_max")


def keep_freed_memory():
    tunables = os.environ.get("GLIBC_TUNABLES", "")
    if not sys.platform.startswith("linux") or any(
        "MALLOC_%s_" % name.upper() in os.environ or "glibc.malloc.%s" % name in tunables for name in MALLOC_SETTINGS
    ):
        return
    try:
        import ctypes

        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc
        return
    # Either call alone would freeze the other threshold at its small default (mallopt turns off
    # glibc's own adjustment of both).
    mallopt(M_MMAP_THRESHOLD, OWN_MAPPING_BYTES)
    mallopt(M_TRIM_THRESHOLD, KEEP_FREED_BYTES)


def own_fds(fds):
    # Programs the user's code starts must not hold our pipes (the parent would miss our end) or
    # the arena (its memory would outlive us).
    for fd in fds:
        os.set_inheritable(fd, False)


# --- Errors as data ----------------------------------------------------------------------------

_BRIDGE_FILE = os.path.abspath(__file__)


def _internal(filename):
    return filename == _BRIDGE_FILE or filename.startswith("<frozen importlib")


def exception_report(exc):
    """Type, message, traceback text and frames of `exc`, starting at the first frame of user code."""
    tb = exc.__traceback__
    while tb is not None and _internal(tb.tb_frame.f_code.co_filename):
        tb = tb.tb_next
    kind = type(exc)
    type_name = kind.__qualname__ if kind.__module__ == "builtins" else "%s.%s" % (kind.__module__, kind.__qualname__)
    try:
        message = str(exc)
    except Exception:  # a broken __str__ must not hide the original error
        message = "<unprintable %s>" % type_name
    frames = [{"file": f.filename, "line": f.lineno, "function": f.name, "code": f.line or ""} for f in traceback.extract_tb(tb)]
    if isinstance(exc, SyntaxError) and exc.filename:
        # A syntax error happens while compiling, so no frame of the user's file exists: name its line.
        frames.append({"file": exc.filename, "line": exc.lineno or 0, "function": "<module>", "code": (exc.text or "").strip()})
    return {
        "type": type_name,
        "message": message,
        "traceback": "".join(traceback.format_exception(kind, exc, tb)),
        "frames": frames,
    }


# --- Finding the function ----------------------------------------------------------------------


def target_text(target):
    return "py:%s:%s" % (target.get("module") or target.get("file"), target["function"])


class Loader:
    """Each module or file imported once per process; a failed import is retried on the next use."""

    def __init__(self):
        self.files = {}

    def module(self, target):
        if target["kind"] == "module":
            return importlib.import_module(target["module"])
        path = target["file"]
        module = self.files.get(path)
        if module is None:
            module = self._import_file(path)
            self.files[path] = module
        return module

    def _import_file(self, path):
        if not os.path.isfile(path):
            raise FileNotFoundError("no such file: %s" % path)
        # A name no other module has, so two files with the same name in different folders coexist.
        stem = "".join(c if c.isalnum() else "_" for c in os.path.splitext(os.path.basename(path))[0])
        name = "_plateflow_file_%s_%x" % (stem, len(self.files))
        loader = importlib.machinery.SourceFileLoader(name, path)
        spec = importlib.util.spec_from_loader(name, loader)
        module = importlib.util.module_from_spec(spec)
        # Registered before running, as `import` does, so dataclasses and pickling inside it work.
        sys.modules[name] = module
        # Sibling helper modules import as when the file is run as a script; appended last so a file
        # in that folder never shadows an installed package.
        folder = os.path.dirname(path)
        if folder not in sys.path:
            sys.path.append(folder)
        try:
            loader.exec_module(module)
        except BaseException:
            del sys.modules[name]
            raise
        return module

    def function(self, target):
        """The callable a target names, or Failure('load') carrying Python's own error."""
        try:
            obj = self.module(target)
        except BaseException as exc:  # SyntaxError, ImportError, SystemExit at import time...
            raise Failure("load", exception_report(exc))
        where = target.get("module") or target["file"]
        for part in target["function"].split("."):
            try:
                obj = getattr(obj, part)
            except AttributeError:
                raise Failure("load", {"type": "AttributeError", "message": "%s has no attribute %r" % (where, target["function"])})
        if not callable(obj):
            raise Failure("load", {"type": "TypeError", "message": "%s.%s is a %s, not callable" % (where, target["function"], type(obj).__name__)})
        return obj


# --- The arena ---------------------------------------------------------------------------------


class Arena:
    """The parent's shared-memory file, mapped whole; remapped only when the file has grown."""

    def __init__(self, fd):
        self.fd = fd
        self.map = None
        self.size = 0
        self.base = 0

    def sync(self):
        size = os.fstat(self.fd).st_size
        if size != self.size:
            self._remap(size)

    def reserve(self, end):
        """Makes the file at least `end` bytes, with its pages allocated now: a full /dev/shm is then
        an error here, not a SIGBUS when the mapping is written."""
        if end <= self.size:
            return
        size = -(-end // GROW_STEP) * GROW_STEP
        current = os.fstat(self.fd).st_size
        try:
            os.posix_fallocate(self.fd, current, size - current)
        except AttributeError:  # no posix_fallocate on this platform (macOS)
            os.ftruncate(self.fd, size)
        except OSError as exc:
            raise Failure("bridge", {"message": "cannot grow the shared-memory arena to %d bytes: %s" % (size, exc.strerror)})
        self._remap(size)

    def _remap(self, size):
        # The old map is not closed: numpy views of it (a result still being copied, an array the
        # user's code kept) keep it alive until they go, and closing it under them would fail.
        self.map = mmap.mmap(self.fd, size)
        self.size = size
        self.base = numpy().frombuffer(self.map, dtype="uint8").__array_interface__["data"][0]

    def array(self, offset, dtype, shape):
        return numpy().ndarray(tuple(shape), dtype=dtype, buffer=self.map, offset=offset)

    def offset_of(self, array):
        """Where `array`'s bytes start in the current map, if they lie wholly inside it."""
        start = array.__array_interface__["data"][0] - self.base
        if 0 <= start and start + array.nbytes <= self.size:
            return start
        return None


# --- Results -----------------------------------------------------------------------------------


def output_dtype(array):
    """The plateflow dtype a returned array is stored as (documented in README, "Python steps")."""
    np = numpy()
    dt = array.dtype
    if dt.kind == "b":
        return "uint8"
    if dt.kind == "f":
        # float64 is what most of scipy/skimage return whatever the input: keeping it would double
        # every output for precision a microscope image does not have.
        return "float32"
    if dt.kind in "iu":
        if dt.name in NATIVE:
            return dt.name
        if dt.itemsize == 8:
            lo, hi = int(array.min()), int(array.max())
            if lo >= INT32_MIN and hi <= INT32_MAX:
                return "int32"
            raise result_failure(
                "returned %s values from %d to %d, beyond int32 (the widest integer type plateflow stores); "
                "convert them yourself, e.g. .astype(np.float32)" % (dt.name, lo, hi),
                array,
            )
    raise result_failure("returned an array of dtype %s, which plateflow cannot store; convert it, e.g. .astype(np.float32)" % dt, array)


def as_stack(value):
    np = numpy()
    if not isinstance(value, np.ndarray):
        if not hasattr(value, "__array__"):
            raise result_failure("returned %s; expected a numpy array (Z, Y, X) or (Y, X), or (array, measurements)" % type(value).__name__)
        value = np.asarray(value)
    if value.ndim == 2:
        value = value[np.newaxis]
    if value.ndim != 3:
        raise result_failure("returned an array of shape %s; expected (Z, Y, X) or (Y, X)" % (value.shape,), value)
    if 0 in value.shape:
        raise result_failure("returned an empty array of shape %s" % (value.shape,), value)
    return value


def measurement_value(key, value):
    np = numpy()
    if isinstance(value, (np.generic, np.ndarray)) and np.ndim(value) == 0:
        value = value.item()
    if not isinstance(value, (int, float)):
        raise result_failure("measurement %r is %s, not a number" % (key, type(value).__name__))
    value = float(value)
    # JSON has no NaN or infinities; the parent reads these three strings back as numbers.
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def measurement_rows(measurements, planes):
    if isinstance(measurements, dict):
        rows = [measurements] * planes
    elif isinstance(measurements, (list, tuple)):
        if len(measurements) != planes:
            raise result_failure("returned %d measurement rows for %d output planes; give one per plane, or one dict for all" % (len(measurements), planes))
        rows = measurements
    else:
        raise result_failure("returned measurements of type %s; expected a dict of numbers or a list of them, one per output plane" % type(measurements).__name__)
    out = []
    for row in rows:
        if not isinstance(row, dict):
            raise result_failure("returned a measurement row of type %s; expected a dict of numbers" % type(row).__name__)
        clean = {}
        for key, value in row.items():
            if not isinstance(key, str):
                raise result_failure("measurement names must be strings, got %r" % (key,))
            clean[key] = measurement_value(key, value)
        out.append(clean)
    return out


def as_output(result, convert=True):
    """A function's return value as plateflow keeps it: a (Z, Y, X) array in a plateflow dtype, and
    its measurement rows (None without). The conversion a chain's next function sees, too.
    convert=False checks the same but leaves the dtype: for an output nobody reads."""
    measurements = None
    if isinstance(result, tuple):
        if len(result) != 2:
            raise result_failure("returned a tuple of %d items; expected (array, measurements)" % len(result))
        result, measurements = result
    array = as_stack(result)
    dtype = output_dtype(array)
    rows = None if measurements is None else measurement_rows(measurements, array.shape[0])
    if array.dtype.kind == "b":
        # A bool is one byte holding 0 or 1: the same bytes read as uint8, without a copy.
        array = array.view("uint8")
    elif convert and array.dtype != numpy().dtype(dtype):
        array = array.astype(dtype)
    return array, rows


def place(arena, array, after):
    """Puts the chain's final array in the arena (where it already lies, if it does: the input itself
    or whole planes of it); returns the reply's description of it."""
    offset = arena.offset_of(array) if array.flags.c_contiguous else None
    if offset is None:
        offset = -(-after // ALIGN) * ALIGN
        arena.reserve(offset + array.nbytes)
        numpy().copyto(arena.array(offset, array.dtype, array.shape), array)
    return {"offset": offset, "dtype": str(array.dtype), "shape": list(array.shape)}


# --- Requests ----------------------------------------------------------------------------------


def at_call(failure, index):
    failure.report["index"] = index
    return failure


def handle_call(request, loader, arena):
    """Runs a chain of functions on one stack: each gets the previous one's output, converted as
    plateflow would store it, so a chain crosses into Python once, not once per function. With
    "output": false (nothing reads the result) the last output is checked but not returned."""
    calls = request["calls"]
    wanted = request.get("output", True)
    functions = []
    for index, call in enumerate(calls):
        try:
            functions.append(loader.function(call["target"]))
        except Failure as failure:
            raise at_call(failure, index)
    if arena is None:
        raise Failure("bridge", {"message": "this process was started without an arena"})
    numpy()
    arena.sync()
    spec = request["input"]
    stack = arena.array(spec["offset"], spec["dtype"], spec["shape"])
    end_of_input = spec["offset"] + stack.nbytes
    steps = []
    for index, (fn, call) in enumerate(zip(functions, calls)):
        try:
            result = fn(stack, **call["kwargs"])
        except BaseException as exc:  # SystemExit and KeyboardInterrupt from user code are its errors too
            raise at_call(Failure("raised", exception_report(exc)), index)
        try:
            stack, rows = as_output(result, convert=wanted or index < len(calls) - 1)
        except Failure as failure:
            raise at_call(failure, index)
        except Exception as exc:  # e.g. an object whose __array__ raises, a number too big for a float
            raise at_call(result_failure("returned a value plateflow cannot read (%s: %s)" % (type(exc).__name__, exc)), index)
        steps.append({"planes": stack.shape[0], "measurements": rows})
    return {"output": place(arena, stack, end_of_input) if wanted else None, "steps": steps}


def try_load(loader, target):
    try:
        loader.function(target)
        return True
    except Failure:
        return False


def handle_probe(request, loader):
    import platform

    reply = {"python": platform.python_version(), "executable": sys.executable, "failures": []}
    try:
        reply["numpy"] = numpy().__version__
    except BaseException as exc:
        reply["numpyError"] = exception_report(exc)
        return reply
    for index, target in enumerate(request["targets"]):
        try:
            loader.function(target)
        except Failure as failure:
            reply["failures"].append(dict(failure.report, index=index))
    return reply


def serve(requests, replies, loader, arena):
    for line in requests:
        request = json.loads(line)
        try:
            if request["op"] == "call":
                reply = handle_call(request, loader, arena)
            elif request["op"] == "probe":
                reply = handle_probe(request, loader)
            elif request["op"] == "load":
                # Imports ahead of the first call; what fails here fails again, and is reported, there.
                reply = {"loaded": sum(1 for target in request["targets"] if try_load(loader, target))}
            else:
                raise Failure("bridge", {"message": "unknown request %r" % request["op"]})
            reply.update(id=request["id"], ok=True)
        except Failure as failure:
            reply = {"id": request["id"], "ok": False, "error": dict(failure.report, kind=failure.kind)}
        except Exception as exc:  # a fault of the bridge itself: reported in full, and the process stays usable
            reply = {"id": request["id"], "ok": False, "error": {"kind": "bridge", "type": type(exc).__name__, "message": str(exc), "traceback": traceback.format_exc()}}
        replies.write(json.dumps(reply, allow_nan=False).encode("utf-8") + b"\n")
        replies.flush()


def main(argv):
    parent_pid = int(argv[argv.index("--parent-pid") + 1])
    arena_fd = int(argv[argv.index("--arena-fd") + 1]) if "--arena-fd" in argv else None
    guard_parent(parent_pid)
    keep_freed_memory()
    # Ctrl-C in a terminal reaches the whole process group; the parent decides what ends us.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    import faulthandler

    # A crash in C code prints the Python stack (the user's file and line) to stderr, which the
    # parent keeps for the task's "killed" cause.
    faulthandler.enable()
    own_fds([REQUEST_FD, REPLY_FD] + ([arena_fd] if arena_fd is not None else []))
    # The bridge's own folder is sys.path[0] when run as a script: user imports must not see it.
    if sys.path and os.path.abspath(sys.path[0] or ".") == os.path.dirname(_BRIDGE_FILE):
        del sys.path[0]
    with os.fdopen(REQUEST_FD, "rb") as requests, os.fdopen(REPLY_FD, "wb") as replies:
        # Returns at EOF: the parent closed the pipe or is gone.
        serve(requests, replies, Loader(), Arena(arena_fd) if arena_fd is not None else None)


if __name__ == "__main__":
    main(sys.argv)
