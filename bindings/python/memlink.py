"""memlink for Python: named shared memory, named events and zero-copy
channels between processes, over memlink's C ABI with ctypes (no compiler
needed at install: only libmemlink.so).

    import memlink
    with memlink.Sender.create("orders") as tx:
        tx.send(b"data is ready")

The library is looked for in $MEMLINK_LIBRARY, next to this file, then by
the system's loader (LD_LIBRARY_PATH, ldconfig). Timeouts are seconds
(float); None (or a timeout too long to mean anything else) waits
forever. Every failure raises MemlinkError (or a
subclass, which is also the matching built-in exception: NotFoundError is a
FileNotFoundError, TimeoutError_ a TimeoutError, ...), with memlink's code
and message.
"""

import ctypes
import ctypes.util
import enum
import math
import numbers
import operator
import os
import threading

__all__ = [
    "Access", "EventKind", "ChannelKind", "WaitStrategy", "ErrorCode",
    "MemlinkError", "NotFoundError", "AlreadyExistsError", "AccessDeniedError",
    "DisconnectedError", "TimeoutError_", "InvalidArgumentError",
    "Mapping", "View", "Event", "Sender", "Receiver", "Loan", "Borrowed",
    "version", "INFINITE",
]

INFINITE = -1  # ML_TIMEOUT_INFINITE


class ErrorCode(enum.IntEnum):
    """ml_result codes: 1-99 mirror the Rust library, 100+ the C ABI."""
    OK = 0
    INVALID_NAME = 1
    INVALID_ARGUMENT = 2
    ALREADY_EXISTS = 3
    NOT_FOUND = 4
    PERMISSION_DENIED = 5
    FOREIGN_OWNER = 6
    ZERO_SIZE = 7
    NO_SPACE = 8
    ACCESS_MISMATCH = 9
    OUT_OF_RANGE = 10
    WRONG_KIND = 11
    BUSY = 12
    FILE = 13
    UNSUPPORTED = 14
    OS = 15
    CORRUPT = 16
    DISCONNECTED = 17
    TIMEOUT = 18
    MESSAGE_TOO_LARGE = 19
    NO_FREE_SLOT = 20
    NOT_RECOVERABLE = 21
    NULL = 100
    PANIC = 101
    STATE = 102
    FULL = 103
    EMPTY = 104
    BUFFER_TOO_SMALL = 105


class Access(enum.IntEnum):
    READ_ONLY = 1
    READ_WRITE = 2
    COPY_ON_WRITE = 3


class EventKind(enum.IntEnum):
    AUTO_RESET = 1
    MANUAL_RESET = 2


class ChannelKind(enum.IntEnum):
    ONE_TO_ONE = 1
    MANY_TO_ONE = 2
    BROADCAST = 3


class WaitStrategy(enum.IntEnum):
    SPIN = 1
    SPIN_THEN_PARK = 2
    PARK = 3


class MemlinkError(Exception):
    """A failed memlink call: `code` (ErrorCode) and memlink's message."""

    def __init__(self, code, message):
        super().__init__(message)
        try:
            self.code = ErrorCode(code)
        except ValueError:
            self.code = code


class NotFoundError(MemlinkError, FileNotFoundError):
    pass


class AlreadyExistsError(MemlinkError, FileExistsError):
    pass


class AccessDeniedError(MemlinkError, PermissionError):
    pass


class DisconnectedError(MemlinkError, ConnectionError):
    pass


class TimeoutError_(MemlinkError, TimeoutError):
    pass


class InvalidArgumentError(MemlinkError, ValueError):
    pass


_EXCEPTIONS = {
    ErrorCode.NOT_FOUND: NotFoundError,
    ErrorCode.ALREADY_EXISTS: AlreadyExistsError,
    ErrorCode.PERMISSION_DENIED: AccessDeniedError,
    ErrorCode.FOREIGN_OWNER: AccessDeniedError,
    ErrorCode.ACCESS_MISMATCH: AccessDeniedError,
    ErrorCode.DISCONNECTED: DisconnectedError,
    ErrorCode.TIMEOUT: TimeoutError_,
    ErrorCode.INVALID_NAME: InvalidArgumentError,
    ErrorCode.INVALID_ARGUMENT: InvalidArgumentError,
    ErrorCode.NULL: InvalidArgumentError,
}


def _load():
    here = os.path.dirname(os.path.abspath(__file__))
    candidates = [os.environ.get("MEMLINK_LIBRARY"),
                  os.path.join(here, "libmemlink.so"),
                  ctypes.util.find_library("memlink"),
                  "libmemlink.so"]
    errors = []
    for path in candidates:
        if not path:
            continue
        try:
            return ctypes.CDLL(path)
        except OSError as e:
            errors.append(str(e))
    raise ImportError("cannot load libmemlink: set MEMLINK_LIBRARY or LD_LIBRARY_PATH ("
                      + "; ".join(errors) + ")")


_lib = _load()

_c = ctypes
_P = _c.c_void_p
_SZ = _c.c_size_t
_I32 = _c.c_int32
_I64 = _c.c_int64
_U32 = _c.c_uint32
_U64 = _c.c_uint64
_STR = _c.c_char_p
_BUF = _c.c_void_p


def _fn(name, *args, restype=_I32):
    f = getattr(_lib, name)
    f.argtypes = list(args)
    f.restype = restype
    return f


_last_error_message = _fn("ml_last_error_message", _c.c_char_p, _SZ, _c.POINTER(_SZ))
_last_error_code = _fn("ml_last_error_code")
_version = _fn("ml_version", restype=_c.c_char_p)

_mapping_create = _fn("ml_mapping_create", _STR, _U64, _c.POINTER(_P))
_mapping_open = _fn("ml_mapping_open", _STR, _I32, _c.POINTER(_P))
_mapping_open_or_create = _fn("ml_mapping_open_or_create", _STR, _U64, _c.POINTER(_P), _c.POINTER(_I32))
_mapping_remove = _fn("ml_mapping_remove", _STR)
_mapping_close = _fn("ml_mapping_close", _P, restype=None)
_mapping_size = _fn("ml_mapping_size", _P, _c.POINTER(_U64))
_mapping_name = _fn("ml_mapping_name", _P, _c.c_char_p, _SZ, _c.POINTER(_SZ))
_mapping_os_name = _fn("ml_mapping_os_name", _P, _c.c_char_p, _SZ, _c.POINTER(_SZ))
_mapping_view = _fn("ml_mapping_view", _P, _U64, _U64, _c.POINTER(_P))
_mapping_view_with_access = _fn("ml_mapping_view_with_access", _P, _U64, _U64, _I32, _c.POINTER(_P))

_view_close = _fn("ml_view_close", _P, restype=None)
_view_len = _fn("ml_view_len", _P, _c.POINTER(_SZ))
_view_ptr = _fn("ml_view_ptr", _P, _c.POINTER(_P))
_view_read = _fn("ml_view_read", _P, _SZ, _BUF, _SZ)
_view_write = _fn("ml_view_write", _P, _SZ, _BUF, _SZ)
_view_flush = _fn("ml_view_flush", _P)
_view_flush_async = _fn("ml_view_flush_async", _P)
_view_flush_range = _fn("ml_view_flush_range", _P, _SZ, _SZ)
_view_load_u32 = _fn("ml_view_load_u32", _P, _SZ, _c.POINTER(_U32))
_view_store_u32 = _fn("ml_view_store_u32", _P, _SZ, _U32)
_view_load_u64 = _fn("ml_view_load_u64", _P, _SZ, _c.POINTER(_U64))
_view_store_u64 = _fn("ml_view_store_u64", _P, _SZ, _U64)

_event_create = _fn("ml_event_create", _STR, _I32, _c.POINTER(_P))
_event_open = _fn("ml_event_open", _STR, _c.POINTER(_P))
_event_open_or_create = _fn("ml_event_open_or_create", _STR, _I32, _c.POINTER(_P), _c.POINTER(_I32))
_event_close = _fn("ml_event_close", _P, restype=None)
_event_set = _fn("ml_event_set", _P)
_event_reset = _fn("ml_event_reset", _P)
_event_notify_one = _fn("ml_event_notify_one", _P)
_event_notify_all = _fn("ml_event_notify_all", _P)
_event_is_set = _fn("ml_event_is_set", _P, _c.POINTER(_I32))
_event_wait = _fn("ml_event_wait", _P, _I64)

_options_new = _fn("ml_channel_options_new", _c.POINTER(_P))
_options_free = _fn("ml_channel_options_free", _P, restype=None)
_options_setters = {
    "kind": _fn("ml_channel_options_set_kind", _P, _I32),
    "capacity": _fn("ml_channel_options_set_capacity", _P, _U64),
    "max_message": _fn("ml_channel_options_set_max_message", _P, _U32),
    "max_senders": _fn("ml_channel_options_set_max_senders", _P, _U32),
    "max_receivers": _fn("ml_channel_options_set_max_receivers", _P, _U32),
    "lossy": _fn("ml_channel_options_set_lossy", _P, _I32),
    "mode": _fn("ml_channel_options_set_mode", _P, _U32),
    "persistent": _fn("ml_channel_options_set_persistent", _P, _I32),
    "allow_foreign_owner": _fn("ml_channel_options_set_allow_foreign_owner", _P, _I32),
}
_options_set_wait = _fn("ml_channel_options_set_wait", _P, _I32, _U32)

_sender_create = _fn("ml_sender_create", _STR, _P, _c.POINTER(_P))
_sender_open = _fn("ml_sender_open", _STR, _P, _c.POINTER(_P))
_sender_close = _fn("ml_sender_close", _P)
_sender_send_timeout = _fn("ml_sender_send_timeout", _P, _BUF, _SZ, _I64)
_sender_try_send = _fn("ml_sender_try_send", _P, _BUF, _SZ)
_sender_loan = _fn("ml_sender_loan", _P, _SZ, _I64, _c.POINTER(_P))
_sender_try_loan = _fn("ml_sender_try_loan", _P, _SZ, _c.POINTER(_P))
_sender_commit = _fn("ml_sender_commit", _P, _SZ)
_sender_abandon = _fn("ml_sender_abandon", _P)
_sender_is_connected = _fn("ml_sender_is_connected", _P, _c.POINTER(_I32))
_sender_max_message = _fn("ml_sender_max_message", _P, _c.POINTER(_SZ))

_receiver_create = _fn("ml_receiver_create", _STR, _P, _c.POINTER(_P))
_receiver_open = _fn("ml_receiver_open", _STR, _P, _c.POINTER(_P))
_receiver_close = _fn("ml_receiver_close", _P)
_receiver_recv_timeout = _fn("ml_receiver_recv_timeout", _P, _BUF, _SZ, _c.POINTER(_SZ), _I64)
_receiver_try_recv = _fn("ml_receiver_try_recv", _P, _BUF, _SZ, _c.POINTER(_SZ))
_receiver_borrow = _fn("ml_receiver_borrow", _P, _I64, _c.POINTER(_P), _c.POINTER(_SZ))
_receiver_try_borrow = _fn("ml_receiver_try_borrow", _P, _c.POINTER(_P), _c.POINTER(_SZ))
_receiver_release = _fn("ml_receiver_release", _P)
_receiver_is_connected = _fn("ml_receiver_is_connected", _P, _c.POINTER(_I32))
_receiver_max_message = _fn("ml_receiver_max_message", _P, _c.POINTER(_SZ))
_receiver_take_missed = _fn("ml_receiver_take_missed", _P, _c.POINTER(_U64))


def version():
    """The version of libmemlink in use."""
    return _version().decode()


def _last_message():
    n = _SZ()
    _last_error_message(None, 0, _c.byref(n))
    buf = _c.create_string_buffer(n.value + 1)
    _last_error_message(buf, len(buf), _c.byref(n))
    return buf.value.decode("utf-8", "replace")


def _error(code):
    try:
        cls = _EXCEPTIONS.get(ErrorCode(code), MemlinkError)
    except ValueError:
        cls = MemlinkError
    return cls(code, _last_message())


def _check(result):
    if result != 0:
        raise _error(result)


def _check_or(result, expected):
    """True on success, False on `expected`, raises otherwise."""
    if result == 0:
        return True
    if result == expected:
        return False
    raise _error(result)


def _name(name):
    return name.encode("utf-8") if isinstance(name, str) else bytes(name)


_MAX_MS = 2 ** 63 - 1  # the C ABI's timeouts are int64_t milliseconds


def _ms(timeout):
    """Seconds as the C ABI's milliseconds. ctypes would wrap an int64
    silently (2**64 ms became 0: "check only"), so a timeout beyond what
    int64 milliseconds can say (292 million years, inf) means forever."""
    if timeout is None:
        return INFINITE
    if isinstance(timeout, numbers.Integral):
        ms = int(timeout) * 1000
    elif isinstance(timeout, numbers.Real):
        ms = float(timeout) * 1000
        if math.isnan(ms):
            raise ValueError("timeout must be None or >= 0 seconds, not NaN")
    else:
        raise TypeError("timeout must be None or a number of seconds, not %r" % (timeout,))
    if ms < 0:
        raise ValueError("timeout must be None or >= 0 seconds, not %r" % (timeout,))
    if ms > _MAX_MS:
        return INFINITE
    return int(ms)


def _unsigned(value, what, bits=64):
    """`value` as an integer for a size_t / uint argument: ctypes would turn
    -1 into 2**64-1 without a word."""
    value = operator.index(value)
    if value < 0:
        raise ValueError("%s must be >= 0, not %d" % (what, value))
    if value >> bits:
        raise ValueError("%s does not fit in %d bits: %d" % (what, bits, value))
    return value


def _state_error(message):
    """The error the C ABI gives for a call the handle's state refuses."""
    return MemlinkError(ErrorCode.STATE, message)


def _bytes_arg(data):
    """A (pointer, length, keepalive) triple for bytes-like `data`."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    if isinstance(data, bytes):
        # ctypes passes a bytes object's own buffer: no copy.
        return (data if data else None), len(data), data
    view = memoryview(data).cast("B")
    n = view.nbytes
    if n == 0:
        return None, 0, None
    if view.readonly:
        keep = _c.create_string_buffer(view.tobytes(), n)
    else:
        keep = (_c.c_char * n).from_buffer(view)
    return _c.cast(keep, _c.c_void_p), n, keep


class _Handle:
    _close = None

    def __init__(self, raw):
        self._raw = raw

    @property
    def _h(self):
        if not self._raw:
            raise ValueError("%s is closed" % type(self).__name__)
        return self._raw

    def close(self):
        raw, self._raw = self._raw, None
        if raw:
            type(self)._close(raw)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass


def _string_out(getter, raw):
    n = _SZ()
    r = getter(raw, None, 0, _c.byref(n))
    if r != ErrorCode.BUFFER_TOO_SMALL:
        _check(r)
    buf = _c.create_string_buffer(n.value + 1)
    _check(getter(raw, buf, len(buf), _c.byref(n)))
    return buf.value.decode()


class View(_Handle):
    """A mapped range (MapViewOfFile). Other processes may write it at any
    time: read() and write() copy and check bounds."""
    _close = _view_close

    def __init__(self, raw):
        super().__init__(raw)
        n = _SZ()
        _check(_view_len(raw, _c.byref(n)))
        self._len = n.value

    def __len__(self):
        return self._len

    @property
    def address(self):
        """The first byte's address (for protocols that say who writes when)."""
        p = _P()
        _check(_view_ptr(self._h, _c.byref(p)))
        return p.value

    def read(self, offset=0, length=None):
        offset = _unsigned(offset, "offset")
        if length is None:
            length = max(self._len - offset, 0)
        length = _unsigned(length, "length")
        buf = _c.create_string_buffer(length)
        _check(_view_read(self._h, offset, _c.cast(buf, _c.c_void_p) if length else None, length))
        return buf.raw

    def write(self, offset, data):
        offset = _unsigned(offset, "offset")
        ptr, n, _keep = _bytes_arg(data)
        _check(_view_write(self._h, offset, ptr, n))

    def load_u32(self, offset):
        v = _U32()
        _check(_view_load_u32(self._h, _unsigned(offset, "offset"), _c.byref(v)))
        return v.value

    def store_u32(self, offset, value):
        _check(_view_store_u32(self._h, _unsigned(offset, "offset"), _unsigned(value, "value", 32)))

    def load_u64(self, offset):
        v = _U64()
        _check(_view_load_u64(self._h, _unsigned(offset, "offset"), _c.byref(v)))
        return v.value

    def store_u64(self, offset, value):
        _check(_view_store_u64(self._h, _unsigned(offset, "offset"), _unsigned(value, "value")))

    def flush(self, wait=True):
        _check(_view_flush(self._h) if wait else _view_flush_async(self._h))

    def flush_range(self, offset, length):
        """Writes back `length` bytes from `offset` to a backing file, and
        waits (nothing to do for memory-backed mappings)."""
        _check(_view_flush_range(self._h, _unsigned(offset, "offset"), _unsigned(length, "length")))


class Mapping(_Handle):
    """A named mapping (the article's file-mapping object). `Global\\NAME`
    is machine-wide and is the POSIX object /NAME, which
    multiprocessing.shared_memory.SharedMemory("NAME") also opens."""
    _close = _mapping_close

    @classmethod
    def create(cls, name, size):
        h = _P()
        _check(_mapping_create(_name(name), _unsigned(size, "size"), _c.byref(h)))
        return cls(h.value)

    @classmethod
    def open(cls, name, access=Access.READ_WRITE):
        h = _P()
        _check(_mapping_open(_name(name), int(access), _c.byref(h)))
        return cls(h.value)

    @classmethod
    def open_or_create(cls, name, size):
        """(mapping, created)."""
        h, created = _P(), _I32()
        _check(_mapping_open_or_create(_name(name), _unsigned(size, "size"), _c.byref(h), _c.byref(created)))
        return cls(h.value), bool(created.value)

    @staticmethod
    def remove(name):
        _check(_mapping_remove(_name(name)))

    @property
    def size(self):
        s = _U64()
        _check(_mapping_size(self._h, _c.byref(s)))
        return s.value

    @property
    def name(self):
        return _string_out(_mapping_name, self._h)

    @property
    def os_name(self):
        return _string_out(_mapping_os_name, self._h)

    def view(self, offset=0, length=0, access=None):
        """A view of `length` bytes from `offset` (0: to the end)."""
        v = _P()
        offset, length = _unsigned(offset, "offset"), _unsigned(length, "length")
        if access is None:
            _check(_mapping_view(self._h, offset, length, _c.byref(v)))
        else:
            _check(_mapping_view_with_access(self._h, offset, length, int(access), _c.byref(v)))
        return View(v.value)


class Event(_Handle):
    """A named event: the article's "data is ready" signal."""
    _close = _event_close

    @classmethod
    def create(cls, name, kind=EventKind.AUTO_RESET):
        h = _P()
        _check(_event_create(_name(name), int(kind), _c.byref(h)))
        return cls(h.value)

    @classmethod
    def open(cls, name):
        h = _P()
        _check(_event_open(_name(name), _c.byref(h)))
        return cls(h.value)

    @classmethod
    def open_or_create(cls, name, kind=EventKind.AUTO_RESET):
        h, created = _P(), _I32()
        _check(_event_open_or_create(_name(name), int(kind), _c.byref(h), _c.byref(created)))
        return cls(h.value), bool(created.value)

    def set(self):
        _check(_event_set(self._h))

    def reset(self):
        _check(_event_reset(self._h))

    def notify_one(self):
        _check(_event_notify_one(self._h))

    def notify_all(self):
        _check(_event_notify_all(self._h))

    def is_set(self):
        v = _I32()
        _check(_event_is_set(self._h, _c.byref(v)))
        return bool(v.value)

    def wait(self, timeout=None):
        """True when released, False if `timeout` seconds passed first."""
        return _check_or(_event_wait(self._h, _ms(timeout)), ErrorCode.TIMEOUT)


def _channel_options(options):
    """A ml_channel_options handle for keyword `options` (None if empty)."""
    if not options:
        return None
    h = _P()
    _check(_options_new(_c.byref(h)))
    try:
        for key, value in options.items():
            if key == "wait":
                strategy, spin_us = value if isinstance(value, tuple) else (value, 50)
                _check(_options_set_wait(h, int(strategy), spin_us))
            elif key in _options_setters:
                _check(_options_setters[key](h, int(value)))
            else:
                raise TypeError("unknown channel option %r" % key)
    except BaseException:
        _options_free(h)
        raise
    return h


def _endpoint(fn, name, options):
    opts = _channel_options(options)
    try:
        h = _P()
        _check(fn(_name(name), opts, _c.byref(h)))
        return h.value
    finally:
        if opts:
            _options_free(opts)


class _Lease:
    """One loan or borrow of an endpoint, outstanding until it is committed,
    abandoned or released, or its endpoint is closed (`live`, `ended`)."""
    __slots__ = ("live", "ended", "orphaned")

    def __init__(self):
        self.live, self.ended, self.orphaned = True, None, False

    def end(self, how):
        self.live, self.ended = False, how


class _Endpoint(_Handle):
    """A Sender or Receiver. The C ABI serves one call at a time per
    endpoint and refuses a concurrent one with ML_ERR_STATE; the binding
    keeps that promise for its own work around a call too (copying out of
    the receive buffer, touching a loan's or borrow's memory, closing) with
    a lock that is only ever tried, never waited for: a concurrent call
    raises MemlinkError(STATE), as the C ABI would."""
    _end_lease = None  # ml_sender_abandon / ml_receiver_release

    def __init__(self, raw):
        super().__init__(raw)
        self._lock = threading.Lock()
        self._lease = None  # the outstanding _Lease, if any

    def _enter(self):
        """The raw handle, with the endpoint's lock held: release it with
        _leave() (in a `finally`)."""
        if not self._lock.acquire(blocking=False):
            raise _state_error("another thread is inside a call on this %s; an endpoint "
                               "serves one call at a time" % type(self).__name__)
        raw = self._raw
        if not raw:
            self._lock.release()
            raise ValueError("%s is closed" % type(self).__name__)
        lease = self._lease
        if lease is not None and lease.live and lease.orphaned:
            # Dropped while another call held the lock: end it now.
            type(self)._end_lease(raw)
            lease.end("dropped without being ended")
        return raw

    def _leave(self):
        self._lock.release()

    def _lend(self):
        self._lease = _Lease()
        return self._lease

    def close(self):
        """Detaches and frees the endpoint. An outstanding loan is abandoned
        (a borrow released) by the C ABI; its Loan/Borrowed then raises
        ValueError. Refused with MemlinkError(STATE), the endpoint staying
        open, while another thread is inside a call on it."""
        if not self._raw:
            return
        if not self._lock.acquire(blocking=False):
            raise _state_error("%s not closed: another thread is inside a call on it"
                               % type(self).__name__)
        try:
            raw = self._raw
            if not raw:
                return
            # Refused (ML_ERR_STATE): the handle stays open.
            _check(type(self)._close(raw))
            self._raw = None
            if self._lease is not None and self._lease.live:
                self._lease.end("ended when its %s was closed" % type(self).__name__)
        finally:
            self._lock.release()


class _Lent:
    """What Loan and Borrowed share: their endpoint, the address and length
    of the bytes lent, and the lease saying whether they are still lent.
    `address` is only valid while the loan or borrow is outstanding and its
    endpoint open: use write() / tobytes(), which check both."""
    _what = "loan"

    def __init__(self, endpoint, lease, address, length):
        self._endpoint, self._lease = endpoint, lease
        self.address, self.length = address, length

    def __len__(self):
        return self.length

    @property
    def outstanding(self):
        """True until committed, abandoned, released or its endpoint closed."""
        return self._lease.live

    def _enter(self):
        raw = self._endpoint._enter()
        if not self._lease.live:
            self._endpoint._leave()
            raise ValueError("the %s was %s" % (self._what, self._lease.ended))
        return raw

    def _end(self, fn, how, *args):
        """Calls fn(raw, *args) to end the lease (no-op if already ended)."""
        if not self._lease.live:
            return
        raw = self._enter()
        try:
            _check(fn(raw, *args))
            self._lease.end(how)
        finally:
            self._endpoint._leave()

    def _drop(self):
        """Ends the lease without raising: for `with` and the collector.
        Safe when the endpoint is closed (closing ended the lease)."""
        lease, endpoint = self._lease, self._endpoint
        if lease is None or not lease.live:
            return
        if not endpoint._lock.acquire(blocking=False):
            lease.orphaned = True  # the endpoint's next call ends it
            return
        try:
            if lease.live and endpoint._raw:
                type(endpoint)._end_lease(endpoint._raw)
                lease.end("dropped without being ended")
        finally:
            endpoint._lock.release()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._drop()

    def __del__(self):
        try:
            self._drop()
        except Exception:
            pass


class Loan(_Lent):
    """Room for one message in the ring, from Sender.loan(). Write into it,
    then commit(); leaving the `with` block uncommitted (or dropping the
    Loan) publishes nothing. Closing the Sender abandons it. The Sender
    refuses other calls (MemlinkError, STATE) while a Loan is outstanding."""

    def write(self, offset, data):
        offset = _unsigned(offset, "offset")
        ptr, n, _keep = _bytes_arg(data)
        if offset + n > self.length:
            raise ValueError("writing %d bytes at %d leaves a loan of %d" % (n, offset, self.length))
        self._enter()
        try:
            if n:
                _c.memmove(self.address + offset, ptr, n)
        finally:
            self._endpoint._leave()

    def commit(self, length=None):
        """Publishes the first `length` bytes (all by default)."""
        length = self.length if length is None else _unsigned(length, "length")
        if not self._lease.live:
            raise ValueError("the loan was %s" % self._lease.ended)
        self._end(_sender_commit, "committed", length)

    def abandon(self):
        """Drops the loan, publishing nothing (nothing to do if it ended)."""
        self._end(_sender_abandon, "abandoned")


class Sender(_Endpoint):
    """The sending end of a channel. Options (keywords): kind, capacity,
    max_message, max_senders, max_receivers, lossy, wait, mode, persistent,
    allow_foreign_owner."""
    _close = _sender_close
    _end_lease = _sender_abandon

    @classmethod
    def create(cls, name, **options):
        return cls(_endpoint(_sender_create, name, options))

    @classmethod
    def open(cls, name, **options):
        return cls(_endpoint(_sender_open, name, options))

    def send(self, data, timeout=None):
        """Sends `data` (bytes-like or str); False if `timeout` passed."""
        ptr, n, _keep = _bytes_arg(data)
        ms = _ms(timeout)
        raw = self._enter()
        try:
            return _check_or(_sender_send_timeout(raw, ptr, n, ms), ErrorCode.TIMEOUT)
        finally:
            self._leave()

    def try_send(self, data):
        """Sends if there is room now; False if the channel is full."""
        ptr, n, _keep = _bytes_arg(data)
        raw = self._enter()
        try:
            return _check_or(_sender_try_send(raw, ptr, n), ErrorCode.FULL)
        finally:
            self._leave()

    def loan(self, length, timeout=None):
        """Zero-copy: a Loan of `length` bytes in the ring. Use it in a
        `with` block, and do not keep it past close()."""
        length, ms = _unsigned(length, "length"), _ms(timeout)
        p = _P()
        raw = self._enter()
        try:
            _check(_sender_loan(raw, length, ms, _c.byref(p)))
            return Loan(self, self._lend(), p.value, length)
        finally:
            self._leave()

    @property
    def connected(self):
        v = _I32()
        raw = self._enter()
        try:
            _check(_sender_is_connected(raw, _c.byref(v)))
        finally:
            self._leave()
        return bool(v.value)

    @property
    def max_message(self):
        n = _SZ()
        raw = self._enter()
        try:
            _check(_sender_max_message(raw, _c.byref(n)))
        finally:
            self._leave()
        return n.value


class Borrowed(_Lent):
    """A received message lent in place, from Receiver.borrow(); its space
    goes back to the sender when the `with` block ends, at release(), when
    the Borrowed is dropped, or when the Receiver is closed. The Receiver
    refuses other calls (MemlinkError, STATE) meanwhile."""
    _what = "message"

    def tobytes(self):
        self._enter()
        try:
            return _c.string_at(self.address, self.length) if self.length else b""
        finally:
            self._endpoint._leave()

    def release(self):
        """Gives the message's space back (nothing to do if it ended)."""
        self._end(_receiver_release, "released")


class Receiver(_Endpoint):
    """The receiving end of a channel. recv() raises DisconnectedError once
    the sender is gone and everything it sent was received; iterating
    yields messages until then."""
    _close = _receiver_close
    _end_lease = _receiver_release

    def __init__(self, raw):
        super().__init__(raw)
        n = _SZ()
        _check(_receiver_max_message(raw, _c.byref(n)))
        self._buf = _c.create_string_buffer(max(n.value, 1))

    @classmethod
    def create(cls, name, **options):
        return cls(_endpoint(_receiver_create, name, options))

    @classmethod
    def open(cls, name, **options):
        return cls(_endpoint(_receiver_open, name, options))

    def recv(self, timeout=None):
        """The next message (bytes); raises TimeoutError_ if `timeout`
        seconds pass first."""
        n, ms = _SZ(), _ms(timeout)
        raw = self._enter()
        try:
            # The lock covers the copy out of the shared buffer too.
            _check(_receiver_recv_timeout(raw, self._buf, len(self._buf), _c.byref(n), ms))
            return _c.string_at(self._buf, n.value)
        finally:
            self._leave()

    def try_recv(self):
        """The next message if one is waiting now, else None."""
        n = _SZ()
        raw = self._enter()
        try:
            if not _check_or(_receiver_try_recv(raw, self._buf, len(self._buf), _c.byref(n)),
                             ErrorCode.EMPTY):
                return None
            return _c.string_at(self._buf, n.value)
        finally:
            self._leave()

    def borrow(self, timeout=None):
        """Zero-copy: the next message in place, as a Borrowed. Use it in a
        `with` block, and do not keep it past close()."""
        p, n, ms = _P(), _SZ(), _ms(timeout)
        raw = self._enter()
        try:
            _check(_receiver_borrow(raw, ms, _c.byref(p), _c.byref(n)))
            return Borrowed(self, self._lend(), p.value, n.value)
        finally:
            self._leave()

    def __iter__(self):
        while True:
            try:
                yield self.recv()
            except DisconnectedError:
                return

    @property
    def connected(self):
        v = _I32()
        raw = self._enter()
        try:
            _check(_receiver_is_connected(raw, _c.byref(v)))
        finally:
            self._leave()
        return bool(v.value)

    @property
    def max_message(self):
        return len(self._buf)

    def take_missed(self):
        v = _U64()
        raw = self._enter()
        try:
            _check(_receiver_take_missed(raw, _c.byref(v)))
        finally:
            self._leave()
        return v.value
