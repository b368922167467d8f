"""The exception hierarchy: one base, each kind also the builtin."""
import pytest

import memlink

PAIRS = [
    ("NotFoundError", FileNotFoundError, 4),
    ("AlreadyExistsError", FileExistsError, 3),
    ("PermissionDeniedError", PermissionError, 5),
    ("ForeignOwnerError", PermissionError, 6),
    ("AccessMismatchError", PermissionError, 9),
    ("TimeoutError", TimeoutError, 18),
    ("DisconnectedError", ConnectionError, 17),
    ("InvalidNameError", ValueError, 1),
    ("InvalidArgumentError", ValueError, 2),
    ("OutOfRangeError", IndexError, 10),
    ("MessageTooLargeError", ValueError, 19),
    ("OsError", OSError, 15),
    ("ClosedError", ValueError, None),
    ("StateError", RuntimeError, None),
    ("BufferInUseError", BufferError, None),
]


@pytest.mark.parametrize("cls,builtin,code", PAIRS)
def test_each_error_is_also_the_builtin(cls, builtin, code):
    c = getattr(memlink, cls)
    assert issubclass(c, memlink.Error) and issubclass(c, builtin)
    assert c.code == code and c.__module__ == "memlink" and c.__doc__


def test_every_code_has_a_class():
    codes = sorted(getattr(memlink, n).code for n in dir(memlink)
                   if isinstance(getattr(memlink, n), type) and issubclass(getattr(memlink, n), memlink.Error)
                   and getattr(memlink, n).code is not None)
    assert codes == list(range(1, 22))


def test_messages_are_the_rust_ones(name):
    with pytest.raises(memlink.Error) as caught:
        memlink.Mapping.open(name)
    assert str(caught.value) == "mapping Local\\%s does not exist" % name
    assert caught.value.code == 4 and isinstance(caught.value, FileNotFoundError)


def test_every_public_name_has_a_docstring():
    missing = []
    for name in dir(memlink):
        if name.startswith("_"):
            continue
        obj = getattr(memlink, name)
        if not getattr(obj, "__doc__", None) and not isinstance(obj, (str, int)):
            missing.append(name)
        if isinstance(obj, type) and not issubclass(obj, BaseException):
            for attr, member in vars(obj).items():
                if attr.startswith("_") or isinstance(member, int):
                    continue
                if not getattr(member, "__doc__", None):
                    missing.append("%s.%s" % (name, attr))
    assert missing == []


def test_star_import_brings_every_public_name():
    names = {}
    exec("from memlink import *", names)
    assert {"Sender", "Receiver", "Mapping", "NotFoundError", "TimeoutError"} <= set(names)
    # memlink.TimeoutError is a builtin TimeoutError: `except TimeoutError`
    # after a star import catches memlink's timeouts (only those).
    assert issubclass(names["TimeoutError"], TimeoutError)
