"""memlink: named shared memory and zero-copy messaging between processes.

Type hints for the native module (maturin installs this file as
memlink/__init__.pyi with py.typed). Timeouts are seconds (float); None waits
forever. Every failure raises a subclass of memlink.Error that is also the
matching built-in exception.
"""
import builtins
import enum
import os
import pathlib
import sys
from collections.abc import Coroutine, Iterator
from types import TracebackType
from typing import Any, Literal, final

from typing_extensions import Buffer

__version__: str
__all__ = [
    "Access",
    "AccessMismatchError",
    "AlreadyExistsError",
    "AsyncWatch",
    "Borrow",
    "BufferInUseError",
    "BusyError",
    "ChannelInfo",
    "ChannelKind",
    "ClosedError",
    "CorruptError",
    "DisconnectedError",
    "EndpointInfo",
    "Error",
    "Event",
    "EventKind",
    "FileError",
    "ForeignOwnerError",
    "InvalidArgumentError",
    "InvalidNameError",
    "Loan",
    "Mapping",
    "MappingInfo",
    "MessageTooLargeError",
    "MutexGuard",
    "NamedEvent",
    "NoFreeSlotError",
    "NoSpaceError",
    "NotFoundError",
    "NotRecoverableError",
    "ObjectKind",
    "OsError",
    "OutOfRangeError",
    "PermissionDeniedError",
    "Receiver",
    "RobustMutex",
    "Sender",
    "SeqLock",
    "StateError",
    "TimeoutError",
    "UnsupportedError",
    "View",
    "WrongKindError",
    "ZeroSizeError",
    "__version__",
    "gc",
    "identify",
    "inspect",
    "inspect_channel",
    "list",
]

_BytesLike = bytes | bytearray | memoryview | str | Buffer
_AccessArg = Access | Literal["r", "rw", "cow", "read-only", "read-write", "copy-on-write"]
_KindArg = ChannelKind | Literal["one_to_one", "many_to_one", "broadcast"]
_WaitArg = Literal["spin", "spin_then_park", "park"]

# -- errors -----------------------------------------------------------------

class Error(Exception):
    """Every failure of memlink. `code` is memlink's stable error code (as in
    the C ABI), None for the binding's own errors."""
    code: int | None

class InvalidNameError(Error, ValueError): ...
class InvalidArgumentError(Error, ValueError): ...
class AlreadyExistsError(Error, FileExistsError): ...
class NotFoundError(Error, FileNotFoundError): ...
class PermissionDeniedError(Error, PermissionError): ...
class ForeignOwnerError(PermissionDeniedError): ...
class ZeroSizeError(Error, ValueError): ...
class NoSpaceError(Error, OSError): ...
class AccessMismatchError(PermissionDeniedError): ...
class OutOfRangeError(Error, IndexError): ...
class WrongKindError(Error): ...
class BusyError(Error): ...
class FileError(Error, OSError): ...
class UnsupportedError(Error): ...
class OsError(Error, OSError): ...
class CorruptError(Error): ...
class DisconnectedError(Error, ConnectionError): ...
class TimeoutError(Error, builtins.TimeoutError): ...
class MessageTooLargeError(Error, ValueError): ...
class NoFreeSlotError(Error): ...
class NotRecoverableError(Error): ...
class ClosedError(Error, ValueError):
    """The object was closed (or its loan or borrow ended)."""
class StateError(Error, RuntimeError):
    """Refused in this state: a loan or borrow is outstanding, or another
    thread is inside a call on the same endpoint."""
class BufferInUseError(Error, BufferError):
    """A memoryview or numpy array still uses memory that would go away."""

# -- mappings -----------------------------------------------------------------

@final
class Access(enum.IntEnum):
    """PAGE_READONLY, PAGE_READWRITE, PAGE_WRITECOPY."""
    READ_ONLY = 1
    READ_WRITE = 2
    COPY_ON_WRITE = 3

@final
class Mapping:
    """A named mapping, memory- or file-backed (CreateFileMapping). Global\\NAME
    is the POSIX object /NAME that multiprocessing.shared_memory opens too."""
    @staticmethod
    def create(name: str, size: int = 0, *, file: str | os.PathLike[str] | None = None,
               access: _AccessArg | None = None, mode: int = 0o600, persistent: bool = False,
               allow_foreign_owner: bool = False, populate: bool = False, lock: bool = False,
               huge_pages: bool = False, busy_timeout: float | None = None) -> Mapping:
        """Creates a mapping (AlreadyExistsError if the name is taken). With
        `file`: size 0 is the file's size, a larger size grows it.
        `busy_timeout`: seconds an open waits for a name another process is
        removing or holds locked before BusyError (None: the default, 2 s;
        0: never wait; never unbounded)."""
    @staticmethod
    def open(name: str, access: _AccessArg | None = None, *, allow_foreign_owner: bool = False,
             populate: bool = False, lock: bool = False, huge_pages: bool = False,
             busy_timeout: float | None = None) -> Mapping:
        """Opens an existing mapping (NotFoundError if none; BusyError if the
        name stays busy longer than `busy_timeout`)."""
    @staticmethod
    def open_or_create(name: str, size: int = 0, *, file: str | os.PathLike[str] | None = None,
                       access: _AccessArg | None = None, mode: int = 0o600,
                       persistent: bool = False, allow_foreign_owner: bool = False,
                       populate: bool = False, lock: bool = False,
                       huge_pages: bool = False,
                       busy_timeout: float | None = None) -> tuple[Mapping, bool]:
        """(mapping, created)."""
    @staticmethod
    def remove(name: str) -> None:
        """Removes a name now; holders keep their memory."""
    @staticmethod
    def inspect(name: str) -> MappingInfo:
        """Describes a mapping without holding it."""
    def view(self, offset: int = 0, length: int | None = None,
             access: _AccessArg | None = None) -> View:
        """A view of `length` bytes from `offset` (default: to the end)."""
    @property
    def name(self) -> str: ...
    @property
    def size(self) -> int: ...
    @property
    def access(self) -> Access: ...
    @property
    def file(self) -> pathlib.Path | None: ...
    @property
    def persistent(self) -> bool: ...
    @property
    def owner(self) -> int: ...
    @property
    def mode(self) -> int: ...
    @property
    def os_name(self) -> str: ...
    @property
    def closed(self) -> bool: ...
    def close(self) -> None:
        """Lets go of the mapping (its views keep it alive)."""
    def __enter__(self) -> Mapping: ...
    def __exit__(self, *exc: object) -> None: ...

@final
class View:
    """A mapped range (MapViewOfFile) with the buffer protocol: memoryview,
    numpy.frombuffer and slicing reach the shared bytes with no copy."""
    def read(self, offset: int = 0, length: int | None = None) -> bytes: ...
    def write(self, offset: int, data: _BytesLike) -> None: ...
    def load_u32(self, offset: int) -> int: ...
    def load_u64(self, offset: int) -> int: ...
    def store_u32(self, offset: int, value: int) -> None: ...
    def store_u64(self, offset: int, value: int) -> None: ...
    def flush(self, wait: bool = True) -> None:
        """FlushViewOfFile (and the file sync, unless wait=False)."""
    def flush_range(self, offset: int, length: int, wait: bool = True) -> None: ...
    def __len__(self) -> int: ...
    def __getitem__(self, key: int | slice, /) -> int | bytes: ...
    def __setitem__(self, key: int | slice, value: int | _BytesLike, /) -> None: ...
    if sys.version_info >= (3, 12):
        def __buffer__(self, flags: int, /) -> memoryview: ...
    @property
    def offset(self) -> int: ...
    @property
    def access(self) -> Access: ...
    @property
    def readonly(self) -> bool: ...
    @property
    def name(self) -> str: ...
    @property
    def closed(self) -> bool: ...
    def close(self) -> None:
        """Unmaps; BufferInUseError while a buffer, RobustMutex or SeqLock
        uses the view."""
    def __enter__(self) -> View: ...
    def __exit__(self, t: type[BaseException] | None, e: BaseException | None,
                 tb: TracebackType | None) -> None: ...

@final
class MappingInfo:
    """A description of a named mapping."""
    name: str
    size: int
    os_name: str
    path: pathlib.Path
    file: pathlib.Path | None
    owner: int
    mode: int | None
    persistent: bool
    live: bool | None
    holders: list[int]

def list(namespace: Literal["local", "global"] | None = None) -> builtins.list[MappingInfo]:
    """Every mapping this user can see (both namespaces by default)."""
def inspect(name: str) -> MappingInfo:
    """Describes the mapping `name` without holding it."""
def gc() -> builtins.list[str]:
    """Removes this user's transient mappings whose holders all died."""

@final
class ObjectKind(enum.IntEnum):
    """What a named mapping holds (identify); the C ABI's ML_OBJECT_* values."""
    CHANNEL = 1
    EVENT = 2
    DOORBELL = 3
    UNKNOWN = 4
    MAPPING = 5

def identify(name: str) -> ObjectKind:
    """What the mapping `name` holds, without holding it (NotFoundError if
    there is no such name)."""

# -- channels -----------------------------------------------------------------

@final
class ChannelKind(enum.IntEnum):
    ONE_TO_ONE = 1
    MANY_TO_ONE = 2
    BROADCAST = 3

@final
class AsyncWatch:
    """One pending recv_async / send_async / wait_async wait (internal to them)."""
    def cancel(self) -> None: ...
    def finish(self, delivered: bool) -> bool: ...

@final
class Sender:
    """The sending end of a channel."""
    @staticmethod
    def create(name: str, *, kind: _KindArg | None = None, capacity: int = 65536,
               max_message: int = 4096, max_senders: int = 16, max_receivers: int = 8,
               lossy: bool = False, wait: _WaitArg = "spin_then_park", spin_us: int = 50,
               mode: int = 0o600, persistent: bool = False,
               allow_foreign_owner: bool = False) -> Sender: ...
    @staticmethod
    def open(name: str, *, wait: _WaitArg = "spin_then_park", spin_us: int = 50,
             allow_foreign_owner: bool = False) -> Sender: ...
    def send(self, data: _BytesLike, timeout: float | None = None) -> None:
        """Sends, waiting for room (TimeoutError, DisconnectedError)."""
    def try_send(self, data: _BytesLike) -> bool:
        """Sends if there is room now."""
    def send_async(self, data: _BytesLike,
                   timeout: float | None = None) -> Coroutine[Any, Any, None]:
        """`await tx.send_async(data)`: sends without blocking the event loop."""
    def loan(self, length: int, timeout: float | None = None) -> Loan:
        """Zero-copy: `length` bytes of the ring to fill, then commit()."""
    def try_loan(self, length: int) -> Loan | None: ...
    def wait_for_receiver(self, timeout: float | None = None) -> None: ...
    def wait_drained(self, timeout: float | None = None) -> None: ...
    @property
    def connected(self) -> bool: ...
    @property
    def max_message(self) -> int: ...
    @property
    def capacity(self) -> int: ...
    @property
    def kind(self) -> ChannelKind: ...
    @property
    def lossy(self) -> bool: ...
    @property
    def owner(self) -> int:
        """The user id that owns the channel (its creator)."""
    @property
    def name(self) -> str: ...
    @property
    def closed(self) -> bool: ...
    def close(self) -> None: ...
    def __enter__(self) -> Sender: ...
    def __exit__(self, *exc: object) -> None: ...

@final
class EndpointInfo:
    """One endpoint slot of a channel."""
    slot: int
    pid: int
    alive: bool

@final
class ChannelInfo:
    """A channel described without attaching to it."""
    name: str
    kind: ChannelKind
    lossy: bool
    capacity: int
    max_message: int
    used: int
    messages: int
    bytes: int
    senders: builtins.list[EndpointInfo]
    receivers: builtins.list[EndpointInfo]

def inspect_channel(name: str, *, allow_foreign_owner: bool = False) -> ChannelInfo:
    """Kind, geometry, fill, counters and endpoints of channel `name`."""

@final
class Loan:
    """Room for one message in the ring: a writable buffer."""
    def write(self, offset: int, data: _BytesLike) -> None: ...
    def commit(self, length: int | None = None) -> None:
        """Publishes the first `length` bytes (all by default)."""
    def abandon(self) -> None: ...
    @property
    def buffer(self) -> memoryview:
        """A writable memoryview, released when the loan ends."""
    @property
    def outstanding(self) -> bool: ...
    def __len__(self) -> int: ...
    if sys.version_info >= (3, 12):
        def __buffer__(self, flags: int, /) -> memoryview: ...
    def __enter__(self) -> Loan: ...
    def __exit__(self, *exc: object) -> None:
        """Abandons the loan unless it was committed."""

@final
class Receiver(Iterator[bytes]):
    """The receiving end of a channel; iterating yields messages until the
    senders are gone."""
    @staticmethod
    def create(name: str, *, kind: _KindArg | None = None, capacity: int = 65536,
               max_message: int = 4096, max_senders: int = 16, max_receivers: int = 8,
               lossy: bool = False, wait: _WaitArg = "spin_then_park", spin_us: int = 50,
               mode: int = 0o600, persistent: bool = False,
               allow_foreign_owner: bool = False) -> Receiver: ...
    @staticmethod
    def open(name: str, *, wait: _WaitArg = "spin_then_park", spin_us: int = 50,
             allow_foreign_owner: bool = False) -> Receiver: ...
    def recv(self, timeout: float | None = None) -> bytes:
        """The next message (TimeoutError, DisconnectedError)."""
    def try_recv(self) -> bytes | None: ...
    def recv_async(self, timeout: float | None = None) -> Coroutine[Any, Any, bytes]:
        """`await rx.recv_async()`: the next message without blocking the
        event loop (one WaitSet thread waits for every pending call)."""
    def recv_into(self, buffer: bytearray | memoryview | Buffer,
                  timeout: float | None = None) -> int:
        """Copies the next message into `buffer`; returns its length."""
    def borrow(self, timeout: float | None = None) -> Borrow:
        """Zero-copy: the next message in place, until released."""
    def try_borrow(self) -> Borrow | None: ...
    def wait_for_sender(self, timeout: float | None = None) -> None: ...
    def take_missed(self) -> int: ...
    def __iter__(self) -> Receiver: ...
    def __next__(self) -> bytes: ...
    @property
    def connected(self) -> bool: ...
    @property
    def max_message(self) -> int: ...
    @property
    def capacity(self) -> int: ...
    @property
    def kind(self) -> ChannelKind: ...
    @property
    def lossy(self) -> bool: ...
    @property
    def owner(self) -> int:
        """The user id that owns the channel (its creator)."""
    @property
    def name(self) -> str: ...
    @property
    def closed(self) -> bool: ...
    def close(self) -> None: ...
    def __enter__(self) -> Receiver: ...
    def __exit__(self, *exc: object) -> None: ...

@final
class Borrow:
    """A received message lent in place: a read-only buffer."""
    def tobytes(self) -> bytes: ...
    def release(self) -> None: ...
    @property
    def buffer(self) -> memoryview:
        """A read-only memoryview, released when the borrow ends."""
    @property
    def outstanding(self) -> bool: ...
    def __len__(self) -> int: ...
    if sys.version_info >= (3, 12):
        def __buffer__(self, flags: int, /) -> memoryview: ...
    def __enter__(self) -> Borrow: ...
    def __exit__(self, *exc: object) -> None:
        """Releases the message."""

# -- synchronisation ------------------------------------------------------------

@final
class EventKind(enum.IntEnum):
    AUTO_RESET = 1
    MANUAL_RESET = 2

@final
class NamedEvent:
    """A named event: the article's "data is ready" signal."""
    @staticmethod
    def create(name: str, kind: EventKind = EventKind.AUTO_RESET) -> NamedEvent: ...
    @staticmethod
    def open(name: str) -> NamedEvent: ...
    @staticmethod
    def open_or_create(name: str, kind: EventKind = EventKind.AUTO_RESET) -> tuple[NamedEvent, bool]: ...
    def set(self) -> None: ...
    def reset(self) -> None: ...
    def is_set(self) -> bool: ...
    def notify_one(self) -> None: ...
    def notify_all(self) -> None: ...
    def wait(self, timeout: float | None = None) -> bool:
        """True when released, False once `timeout` passed."""
    def wait_async(self, timeout: float | None = None) -> Coroutine[Any, Any, bool]:
        """`await event.wait_async()`: wait without blocking the event loop
        (on the WaitSet thread of recv_async); a cancelled wait takes no
        signal."""
    @property
    def waiters(self) -> int: ...
    @property
    def kind(self) -> EventKind: ...
    @property
    def name(self) -> str: ...
    def close(self) -> None: ...
    def __enter__(self) -> NamedEvent: ...
    def __exit__(self, *exc: object) -> None: ...

@final
class Event:
    """An event inside a View (128 bytes, 128-aligned)."""
    @staticmethod
    def init_in(view: View, offset: int, kind: EventKind = EventKind.AUTO_RESET) -> Event: ...
    @staticmethod
    def attach(view: View, offset: int) -> Event: ...
    def set(self) -> None: ...
    def reset(self) -> None: ...
    def is_set(self) -> bool: ...
    def notify_one(self) -> None: ...
    def notify_all(self) -> None: ...
    def wait(self, timeout: float | None = None) -> bool: ...
    @property
    def waiters(self) -> int: ...
    @property
    def kind(self) -> EventKind: ...

@final
class RobustMutex:
    """A lock in shared memory that survives its owner's kill -9."""
    @staticmethod
    def init_in(view: View, offset: int) -> RobustMutex: ...
    @staticmethod
    def attach(view: View, offset: int) -> RobustMutex: ...
    def lock(self, timeout: float | None = None) -> MutexGuard: ...
    def try_lock(self) -> MutexGuard | None: ...
    @property
    def owner_pid(self) -> int | None: ...
    def __enter__(self) -> MutexGuard: ...
    def __exit__(self, *exc: object) -> None: ...

@final
class MutexGuard:
    """A held RobustMutex."""
    @property
    def owner_died(self) -> bool: ...
    def mark_consistent(self) -> None: ...
    def unlock(self) -> None: ...
    @property
    def locked(self) -> bool: ...
    def __enter__(self) -> MutexGuard: ...
    def __exit__(self, *exc: object) -> None: ...

@final
class SeqLock:
    """Torn-free snapshots of a byte value, one writer, many readers."""
    @staticmethod
    def init_in(view: View, offset: int, initial: _BytesLike) -> SeqLock: ...
    @staticmethod
    def attach(view: View, offset: int, size: int) -> SeqLock: ...
    def write(self, data: _BytesLike) -> None: ...
    def try_read(self) -> bytes | None: ...
    def read(self, timeout: float | None = None) -> bytes: ...
    @property
    def version(self) -> int: ...
    @property
    def size(self) -> int: ...
    @staticmethod
    def sizes() -> builtins.list[int]: ...
