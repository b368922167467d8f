"""Mappings and views: options (the busy timeout too), identify, the buffer
protocol (memoryview, slicing, numpy without copies), flush, and
multiprocessing.shared_memory interop."""
import gc
import math
import os
import sys
from multiprocessing import resource_tracker, shared_memory

import numpy as np
import pytest

import memlink


def test_create_open_open_or_create(name):
    with memlink.Mapping.create(name, 8192) as m:
        assert (m.size, m.access, m.persistent, m.mode) == (8192, memlink.Access.READ_WRITE, False, 0o600)
        assert m.name == "Local\\" + name and m.file is None and m.owner == os.geteuid()
        with pytest.raises(memlink.AlreadyExistsError) as caught:
            memlink.Mapping.create(name, 4096)
        assert isinstance(caught.value, FileExistsError) and caught.value.code == 3
        assert name in str(caught.value)
        again, created = memlink.Mapping.open_or_create(name, 1)
        with again:
            assert not created and again.size == 8192  # keeps its own size
        with memlink.Mapping.open(name, "r") as ro:
            assert ro.access == memlink.Access.READ_ONLY
    fresh, created = memlink.Mapping.open_or_create(name, 100)
    with fresh:
        assert created and fresh.size == 100


def test_views_are_buffers_without_copies(name):
    with memlink.Mapping.create(name, 4096) as m, m.view() as v:
        mv = memoryview(v)
        assert (mv.readonly, mv.nbytes, mv.format) == (False, 4096, "B")
        mv[0:5] = b"hello"
        assert v.read(0, 5) == b"hello" and v[0:5] == b"hello" and v[1] == ord("e")
        a = np.frombuffer(v, dtype=np.uint32)
        assert a.base is not None and not a.flags.owndata
        a[10] = 0xDEADBEEF  # through numpy, seen by the view: same memory
        assert v.load_u32(40) == 0xDEADBEEF
        v.store_u64(64, 2**40)
        assert int(np.frombuffer(v, dtype=np.uint64, count=1, offset=64)[0]) == 2**40
        v[100:103] = bytearray(b"abc")
        v[-1] = 7
        assert bytes(mv[100:103]) == b"abc" and mv[4095] == 7
        v.write(200, "text")
        v.write(210, memoryview(b"memoryview"))
        assert v.read(200, 4) == b"text" and v.read(210, 10) == b"memoryview"
        with pytest.raises(memlink.BufferInUseError):
            v.close()  # numpy and the memoryview still use it
        del a
        mv.release()
    assert v.closed


def test_read_only_views_give_read_only_buffers(name):
    with memlink.Mapping.create(name, 4096) as m:
        m.view().write(0, b"shared")
        with memlink.Mapping.open(name, memlink.Access.READ_ONLY) as ro, ro.view() as v:
            mv = memoryview(v)
            assert mv.readonly and bytes(mv[:6]) == b"shared"
            with pytest.raises(TypeError):
                mv[0] = 1
            arr = np.frombuffer(v, dtype=np.uint8)
            assert not arr.flags.writeable
            with pytest.raises(PermissionError):  # AccessMismatchError
                v.write(0, b"x")
            with pytest.raises(memlink.AccessMismatchError):
                ro.view(access="rw")
            del arr
            mv.release()
            # Copy-on-write: a private, writable view of a read-only mapping.
            with ro.view(access="cow") as private:
                memoryview(private)[0:6] = b"PRIVAT"
                assert private.read(0, 6) == b"PRIVAT"
            assert v.read(0, 6) == b"shared"


def test_ranges_and_bad_input(name):
    with memlink.Mapping.create(name, 100) as m, m.view(10, 50) as v:
        assert (len(v), v.offset) == (50, 10)
        with pytest.raises(memlink.OutOfRangeError) as caught:
            v.write(48, b"abc")
        assert isinstance(caught.value, IndexError) and "48" in str(caught.value)
        with pytest.raises(IndexError):
            v.read(40, 20)
        with pytest.raises(IndexError):
            v[50]
        with pytest.raises(memlink.OutOfRangeError):
            m.view(90, 20)
        with pytest.raises(memlink.InvalidArgumentError):
            m.view(0, 0)
        for call in (lambda: v.read(-1, 3), lambda: v.read(0, -3), lambda: v.write(-1, b"x"),
                     lambda: m.view(-1), lambda: v.flush_range(-1, 1)):
            with pytest.raises(ValueError) as caught:
                call()
            assert ">= 0" in str(caught.value)
        with pytest.raises(memlink.InvalidArgumentError):
            v[0:3] = b"too long"  # a view does not resize
        with pytest.raises(TypeError):
            v.write(0, 12345)
        with pytest.raises(TypeError):
            v.write("0", b"x")
        with pytest.raises(memlink.OutOfRangeError):
            v.load_u32(49)
        with pytest.raises(memlink.InvalidArgumentError):
            v.load_u32(1)  # misaligned
    with pytest.raises(memlink.ClosedError) as caught:
        v.read()
    assert isinstance(caught.value, ValueError) and "closed" in str(caught.value)
    with pytest.raises(memlink.ClosedError):
        m.size
    with pytest.raises(memlink.ClosedError):
        memoryview(v)
    m.close()  # twice is fine
    with pytest.raises(memlink.ZeroSizeError):
        memlink.Mapping.create(name, 0)
    with pytest.raises(ValueError):
        memlink.Mapping.create(name, -1)
    with pytest.raises(memlink.InvalidNameError):
        memlink.Mapping.create("a/b", 10)
    with pytest.raises(memlink.InvalidArgumentError):
        memlink.Mapping.create(name, 10, mode=0o7777)
    with pytest.raises(memlink.InvalidArgumentError):
        memlink.Mapping.open(name, "x")
    with pytest.raises(TypeError):
        memlink.Mapping.open(name, 3.5)


def test_a_view_keeps_the_mapping_alive(name):
    m = memlink.Mapping.create(name, 64)
    v = m.view()
    m.close()
    v.write(0, b"still here")
    with memlink.Mapping.open(name) as again:
        assert again.view().read(0, 10) == b"still here"
    v.close()
    with pytest.raises(memlink.NotFoundError):
        memlink.Mapping.open(name)


def test_file_backed_mappings_follow_the_articles_size_rules(name, tmp_path):
    path = tmp_path / "data.bin"
    path.write_bytes(b"0123456789")
    with memlink.Mapping.create(name, 0, file=path) as m:  # 0: the file's size
        assert m.size == 10 and m.file == path
        with m.view() as v:
            assert bytes(memoryview(v)) == b"0123456789"
            v[0:3] = b"abc"
            v.flush()
            v.flush_range(0, 3, wait=False)
            v.flush(wait=False)
    assert path.read_bytes() == b"abc3456789"
    with memlink.Mapping.create(name, 4096, file=path) as m:  # larger: grows the file
        assert m.size == 4096
    assert path.stat().st_size == 4096
    empty = tmp_path / "empty.bin"
    empty.write_bytes(b"")
    with pytest.raises(memlink.ZeroSizeError):
        memlink.Mapping.create(name, 0, file=empty)
    ro = tmp_path / "ro.bin"
    ro.write_bytes(b"x" * 100)
    ro.chmod(0o400)
    if os.geteuid() != 0:  # root writes any file
        with pytest.raises(PermissionError):
            memlink.Mapping.create(name, 0, file=ro)
    with memlink.Mapping.create(name, 0, file=ro, access="r") as m:
        assert m.access == memlink.Access.READ_ONLY and m.view().read(0, 3) == b"xxx"


def test_options_mode_persistent_populate_lock(name):
    with memlink.Mapping.create(name, 8192, mode=0o640, persistent=True, populate=True) as m:
        assert m.mode == 0o640 and m.persistent
    info = memlink.inspect(name)
    assert (info.size, info.persistent, info.mode) == (8192, True, 0o640)
    assert name in repr(info)
    assert any(i.name == "Local\\" + name for i in memlink.list("local"))
    memlink.Mapping.remove(name)
    with pytest.raises(memlink.NotFoundError):
        memlink.inspect(name)
    with pytest.raises(memlink.InvalidArgumentError):
        memlink.list("nowhere")
    try:
        with memlink.Mapping.create(name, 4096, lock=True) as m:
            assert m.view().read(0, 1) == b"\0"
    except memlink.OsError:
        pass  # RLIMIT_MEMLOCK too small here: a clear error, not a crash


def test_identify_tells_what_a_name_holds(name):
    assert [int(k) for k in (memlink.ObjectKind.CHANNEL, memlink.ObjectKind.EVENT,
                             memlink.ObjectKind.DOORBELL, memlink.ObjectKind.UNKNOWN,
                             memlink.ObjectKind.MAPPING)] == [1, 2, 3, 4, 5]  # ML_OBJECT_*
    with memlink.Mapping.create(name + "-map", 4096), \
            memlink.NamedEvent.create(name + "-ev"), \
            memlink.Sender.create(name + "-ch"):
        assert memlink.identify(name + "-map") == memlink.ObjectKind.MAPPING
        assert memlink.identify(name + "-ev") == memlink.ObjectKind.EVENT
        kind = memlink.identify(name + "-ch")
        assert kind == memlink.ObjectKind.CHANNEL and isinstance(kind, memlink.ObjectKind)
    # Looking held nothing: closed, they are gone.
    for gone in (name + "-map", name + "-none"):
        with pytest.raises(memlink.NotFoundError) as caught:
            memlink.identify(gone)
        assert isinstance(caught.value, FileNotFoundError) and caught.value.code == 4
        assert gone in str(caught.value)
    with pytest.raises(memlink.InvalidNameError):
        memlink.identify("a/b")


def test_busy_timeout(name):
    with memlink.Mapping.create(name, 4096, busy_timeout=0) as m, \
            memlink.Mapping.open(name, busy_timeout=0.0) as again, \
            memlink.Mapping.open(name, busy_timeout=2.5) as longer:
        assert m.size == again.size == longer.size == 4096
        opened, created = memlink.Mapping.open_or_create(name, 1, busy_timeout=0)
        with opened:
            assert not created
        # Always bounded: negative, NaN, infinite and absurd are refused.
        for bad in (-0.001, math.nan, math.inf, 1e300):
            with pytest.raises(memlink.InvalidArgumentError) as caught:
                memlink.Mapping.open(name, busy_timeout=bad)
            assert "busy_timeout" in str(caught.value)
        with pytest.raises(TypeError):
            memlink.Mapping.open(name, busy_timeout="1")
    if sys.platform != "linux":
        return
    # An entry held locked, as a remover holds it while it unlinks the
    # name: 0 says BusyError at once, 0.1 s (shorter than a removal takes)
    # after waiting, and the default finds that the lock outlasts any
    # removal and opens. Nobody may hold the name for the lock to be taken.
    import fcntl
    held = name + "-held"
    with memlink.Mapping.create(held, 4096, persistent=True):
        pass
    try:
        fd = os.open("/dev/shm/memlink-%d/%s" % (os.geteuid(), held), os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            with pytest.raises(memlink.BusyError):
                memlink.Mapping.open(held, busy_timeout=0)
            with pytest.raises(memlink.BusyError):
                memlink.Mapping.open(held, busy_timeout=0.1)
            with memlink.Mapping.open(held) as m:
                assert m.size == 4096
        finally:
            os.close(fd)
    finally:
        memlink.Mapping.remove(held)


def test_gc_reclaims_what_a_killed_holder_left(name, child):
    c = child("""
        import sys, memlink
        m = memlink.Mapping.create(sys.argv[1], 4096)
        print("created", flush=True)
        sys.stdin.readline()
    """, name)
    c.expect("created")
    assert memlink.inspect(name).live
    c.kill()
    # Dead holders: invisible at once, reclaimed by gc().
    with pytest.raises(memlink.NotFoundError):
        memlink.Mapping.open(name)
    reclaimed = memlink.gc()
    assert all(isinstance(n, str) for n in reclaimed)
    with pytest.raises(memlink.NotFoundError):
        memlink.inspect(name)


def _attach_stdlib(base):
    shm = shared_memory.SharedMemory(name=base, create=False)
    # Before Python 3.13 attaching registers the segment with the resource
    # tracker, which would unlink memlink's object at exit.
    resource_tracker.unregister(shm._name, "shared_memory")
    return shm


def test_a_global_mapping_is_a_shared_memory_segment(name):
    with memlink.Mapping.create("Global\\" + name, 4096) as m, m.view() as v:
        assert m.os_name == "/" + name
        v.write(0, b"Message from first process.")
        shm = _attach_stdlib(name)
        try:
            assert bytes(shm.buf[:27]) == b"Message from first process."
            shm.buf[100:103] = b"std"
            assert v.read(100, 3) == b"std"
        finally:
            shm.close()


def test_a_shared_memory_segment_is_a_global_mapping(name):
    shm = shared_memory.SharedMemory(name=name, create=True, size=8192)
    try:
        shm.buf[:5] = b"stdlb"
        with memlink.Mapping.open("Global\\" + name) as m, m.view() as v:
            assert m.size >= 5 and v.read(0, 5) == b"stdlb"
            a = np.frombuffer(v, dtype=np.uint8)
            a[5:8] = [1, 2, 3]
            assert bytes(shm.buf[5:8]) == b"\x01\x02\x03"
            del a
    finally:
        shm.close()
        shm.unlink()


def test_numpy_over_a_shared_mapping_between_processes(name, child):
    with memlink.Mapping.create("Global\\" + name, 8 * 1000) as m, m.view() as v:
        a = np.frombuffer(v, dtype=np.float64)
        a[:] = np.arange(1000)
        c = child("""
            import sys, numpy as np, memlink
            with memlink.Mapping.open(sys.argv[1]) as m, m.view() as v:
                a = np.frombuffer(v, dtype=np.float64)
                print("sum", a.sum(), flush=True)
                a *= 2
                del a
        """, "Global\\" + name)
        assert c.expect("sum") == "sum %r" % float(sum(range(1000)))
        c.succeed()
        assert a[999] == 1998.0
        del a
    gc.collect()
