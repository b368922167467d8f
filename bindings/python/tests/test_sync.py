"""NamedEvent, RobustMutex (owner_died after kill -9), SeqLock snapshots."""
import struct
import threading
import time

import pytest

import memlink


def test_named_event_between_processes(name, child):
    with memlink.NamedEvent.create(name, memlink.EventKind.AUTO_RESET) as ev:
        assert ev.kind == memlink.EventKind.AUTO_RESET and ev.name.endswith(name)
        assert not ev.wait(0.01)
        c = child("""
            import sys, memlink
            with memlink.NamedEvent.open(sys.argv[1]) as ev:
                ev.set()
            print("set", flush=True)
        """, name)
        assert ev.wait(30)
        assert not ev.is_set()  # auto-reset
        c.succeed()
    with pytest.raises(memlink.NotFoundError):
        memlink.NamedEvent.open(name)


def test_manual_reset_open_or_create_and_wrong_kind(name):
    ev, created = memlink.NamedEvent.open_or_create(name, memlink.EventKind.MANUAL_RESET)
    with ev:
        assert created
        other, created = memlink.NamedEvent.open_or_create(name)
        with other:
            assert not created and other.kind == memlink.EventKind.MANUAL_RESET
            other.set()
            assert ev.wait(0) and ev.wait(0) and ev.is_set()
            ev.reset()
            assert not other.wait(0.01)
            waiter = threading.Thread(target=lambda: other.wait(30))
            waiter.start()
            deadline = time.monotonic() + 30
            while ev.waiters == 0:
                assert time.monotonic() < deadline
            ev.notify_all()
            waiter.join(30)
            assert not waiter.is_alive()
    with memlink.Mapping.create(name + "-plain", 4096):
        with pytest.raises(memlink.WrongKindError):
            memlink.NamedEvent.open(name + "-plain")
    ev.close()
    with pytest.raises(memlink.ClosedError):
        ev.set()


def test_robust_mutex_tells_that_its_owner_died(name, child):
    with memlink.Mapping.create(name, 4096) as m, m.view() as v:
        mutex = memlink.RobustMutex.init_in(v, 0)
        with mutex as guard:
            assert not guard.owner_died and mutex.owner_pid is not None
        assert mutex.owner_pid is None
        with pytest.raises(memlink.BufferInUseError):
            v.close()  # the mutex lives in the view
        c = child("""
            import sys, memlink
            m = memlink.Mapping.open(sys.argv[1])
            v = m.view()
            mutex = memlink.RobustMutex.attach(v, 0)
            g = mutex.lock(30)
            v.write(128, b"half-done")
            print("locked", flush=True)
            sys.stdin.readline()
        """, name)
        c.expect("locked")
        assert mutex.try_lock() is None
        with pytest.raises(TimeoutError):
            mutex.lock(0.05)
        c.kill()
        with mutex.lock(30) as guard:
            assert guard.owner_died and v.read(128, 9) == b"half-done"
            v.write(128, b"repaired!")
            guard.mark_consistent()
        with mutex as guard:
            assert not guard.owner_died
        g = mutex.try_lock()
        assert g.locked
        g.unlock()
        assert not g.locked
        with pytest.raises(memlink.WrongKindError):
            memlink.RobustMutex.attach(v, 256)
        with pytest.raises(memlink.InvalidArgumentError):
            memlink.RobustMutex.init_in(v, 100)  # misaligned
        del mutex, g, guard


def test_an_unrepaired_mutex_is_not_recoverable(name, child):
    with memlink.Mapping.create(name, 4096) as m:
        v = m.view()
        mutex = memlink.RobustMutex.init_in(v, 0)
        c = child("""
            import sys, memlink
            mutex = memlink.RobustMutex.attach(memlink.Mapping.open(sys.argv[1]).view(), 0)
            g = mutex.lock(30)
            print("locked", flush=True)
            sys.stdin.readline()
        """, name)
        c.expect("locked")
        c.kill()
        with mutex.lock(30) as guard:
            assert guard.owner_died  # and not marked consistent
        with pytest.raises(memlink.NotRecoverableError):
            mutex.lock(1)


def test_seqlock_snapshots_are_never_torn(name, child):
    with memlink.Mapping.create(name, 4096) as m, m.view() as v:
        lock = memlink.SeqLock.init_in(v, 0, struct.pack("<3d", 0, 0, 0))
        assert (lock.size, lock.version) == (24, 0)
        assert lock.read(1.0) == bytes(24)
        lock.write(struct.pack("<3d", 1.5, -0.25, 1000.0))
        assert struct.unpack("<3d", lock.try_read()) == (1.5, -0.25, 1000.0) and lock.version == 1
        with pytest.raises(memlink.InvalidArgumentError):
            lock.write(b"short")
        with pytest.raises(memlink.CorruptError):
            memlink.SeqLock.attach(v, 0, 32)
        with pytest.raises(memlink.InvalidArgumentError):
            memlink.SeqLock.init_in(v, 128, bytes(4097))
        c = child("""
            import sys, struct, memlink
            v = memlink.Mapping.open(sys.argv[1]).view()
            lock = memlink.SeqLock.attach(v, 0, 24)
            for i in range(20000):
                lock.write(struct.pack("<3d", i, i, i))
            print("done", flush=True)
        """, name)
        torn = 0
        seen = 0
        while c.proc.poll() is None or seen == 0:
            a, b, d = struct.unpack("<3d", lock.read(30))
            torn += not (a == b == d or (a, b, d) == (1.5, -0.25, 1000.0))
            seen += 1
        c.succeed()
        assert torn == 0 and lock.version == 20001 and 24 in memlink.SeqLock.sizes()
        del lock


def test_an_event_inside_a_view_between_processes(name, child):
    with memlink.Mapping.create(name, 4096) as m, m.view() as v:
        ev = memlink.Event.init_in(v, 128, memlink.EventKind.MANUAL_RESET)
        assert ev.kind == memlink.EventKind.MANUAL_RESET and not ev.wait(0.01)
        c = child("""
            import sys, memlink
            v = memlink.Mapping.open(sys.argv[1]).view()
            memlink.Event.attach(v, 128).set()
        """, name)
        assert ev.wait(30) and ev.is_set()  # manual-reset: stays set
        ev.reset()
        assert not ev.is_set()
        c.succeed()
        with pytest.raises(memlink.WrongKindError):
            memlink.Event.attach(v, 0)
        with pytest.raises(memlink.BufferInUseError):
            v.close()
        del ev
