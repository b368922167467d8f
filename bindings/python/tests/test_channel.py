"""Channels: every kind, timeouts, try_*, iteration, loans and borrows as
buffers, real processes, kill -9 of the peer, the GIL and Ctrl-C."""
import os
import signal
import struct
import threading
import time

import numpy as np
import pytest

import memlink


def test_send_receive_try_and_timeouts(name):
    with memlink.Sender.create(name, capacity=4096, max_message=512) as tx, \
            memlink.Receiver.open(name) as rx:
        assert rx.try_recv() is None
        started = time.monotonic()
        with pytest.raises(memlink.TimeoutError) as caught:
            rx.recv(timeout=0.05)
        assert time.monotonic() - started >= 0.05
        assert isinstance(caught.value, TimeoutError) and "50ms" in str(caught.value)
        tx.send(b"one")
        assert tx.try_send(bytearray(b"two"))
        tx.send("")
        tx.send(np.arange(4, dtype=np.uint16))  # any contiguous buffer
        assert rx.recv(1.0) == b"one"
        assert rx.try_recv() == b"two"
        assert rx.recv(1.0) == b""
        assert rx.recv(1.0) == np.arange(4, dtype=np.uint16).tobytes()
        assert (tx.max_message, rx.max_message, tx.capacity) == (512, 512, 4096)
        assert tx.kind == rx.kind == memlink.ChannelKind.ONE_TO_ONE
        assert tx.connected and rx.connected and not tx.lossy
        assert tx.owner == rx.owner == os.geteuid()
        with pytest.raises(memlink.MessageTooLargeError) as caught:
            tx.send(b"x" * 513)
        assert isinstance(caught.value, ValueError) and "513" in str(caught.value)
        while tx.try_send(b"y" * 400):
            pass
        with pytest.raises(TimeoutError):
            tx.send(b"y" * 400, timeout=0.01)  # full
        buf = bytearray(512)
        assert rx.recv_into(buf) == 400 and buf[:400] == b"y" * 400
        small = bytearray(10)
        with pytest.raises(memlink.MessageTooLargeError):
            rx.recv_into(small)
        with pytest.raises(TypeError):
            rx.recv_into(b"immutable")
        for bad in (-1, float("nan")):
            with pytest.raises(ValueError):
                rx.recv(bad)
        with pytest.raises(TypeError):
            rx.recv("1")
        with pytest.raises(TypeError):
            tx.send(12)


def test_huge_timeouts_wait_forever(name):
    with memlink.Sender.create(name) as tx, memlink.Receiver.open(name) as rx:
        for huge in (2**64 / 1000, 2.0**70, float("inf")):
            threading.Timer(0.05, tx.send, (b"late",)).start()
            assert rx.recv(timeout=huge) == b"late"


def test_iteration_ends_at_disconnection(name):
    rx = memlink.Receiver.create(name)
    with memlink.Sender.open(name) as tx:
        for i in range(3):
            tx.send(b"%d" % i)
    assert list(rx) == [b"0", b"1", b"2"]
    with pytest.raises(memlink.DisconnectedError) as caught:
        rx.recv(1.0)
    assert isinstance(caught.value, ConnectionError) and "disconnected" in str(caught.value)
    rx.close()
    with pytest.raises(memlink.ClosedError):
        rx.recv()


def test_loans_are_writable_buffers_until_they_end(name):
    with memlink.Sender.create(name) as tx, memlink.Receiver.open(name) as rx:
        with tx.loan(10) as loan:
            assert len(loan) == 10 and loan.outstanding
            loan.buffer[0:4] = b"zero"
            loan.commit(4)
        with tx.loan(3) as loan:
            loan.write(0, b"abc")  # not committed: nothing is sent
        with pytest.raises(memlink.ClosedError) as caught:
            loan.write(0, b"x")
        assert "abandoned" in str(caught.value)
        with tx.loan(8) as loan:
            a = np.frombuffer(loan, dtype=np.uint32)
            a[:] = [1, 2]
            with pytest.raises(memlink.BufferInUseError):
                loan.commit()  # the array still points into the ring
            with pytest.raises(memlink.StateError):
                tx.send(b"meanwhile")  # the loan holds the sender
            del a
            loan.commit()
        assert rx.recv(1.0) == b"zero"
        assert rx.recv(1.0) == struct.pack("=II", 1, 2)
        assert rx.try_recv() is None
        loan = tx.loan(4)
        view = loan.buffer
        loan.commit(0)
        with pytest.raises(ValueError):
            view[0]  # released with the loan
        with pytest.raises(memlink.ClosedError):
            memoryview(loan)
        with pytest.raises(memlink.ClosedError):
            loan.commit()
        assert rx.recv(1.0) == b""
        with pytest.raises(IndexError):
            with tx.loan(2) as l2:
                l2.write(1, b"too long")
        with pytest.raises(ValueError):
            tx.loan(-1)


def test_borrows_are_read_only_buffers_until_released(name):
    with memlink.Sender.create(name, capacity=1 << 22, max_message=1 << 20) as tx, \
            memlink.Receiver.open(name) as rx:
        payload = np.arange(1 << 18, dtype=np.float32)  # 1 MiB
        tx.send(payload)
        with rx.borrow(1.0) as msg:
            assert len(msg) == payload.nbytes
            arr = np.frombuffer(msg, dtype=np.float32)  # no copy
            assert not arr.flags.writeable and not arr.flags.owndata
            assert np.array_equal(arr, payload)
            view = msg.buffer
            assert view.readonly
            with pytest.raises(memlink.StateError):
                rx.try_recv()
            with pytest.raises(memlink.BufferInUseError):
                msg.release()  # arr still uses the ring
            del arr
        with pytest.raises(ValueError):
            view[0]
        with pytest.raises(memlink.ClosedError):
            msg.tobytes()
        assert not msg.outstanding
        tx.send(b"next")
        assert rx.try_borrow().tobytes() == b"next"  # dropped at once: released
        assert rx.try_borrow() is None
        with pytest.raises(TimeoutError):
            rx.borrow(0.01)


def test_closing_an_endpoint_ends_its_loan_or_borrow(name):
    tx = memlink.Sender.create(name)
    rx = memlink.Receiver.open(name)
    tx.send(b"x" * 100)
    msg = rx.borrow(1.0)
    loan = tx.loan(8)
    mv = memoryview(msg)
    with pytest.raises(memlink.BufferInUseError):
        rx.close()  # the memoryview would outlive the ring
    assert not rx.closed
    mv.release()
    rx.close()
    with pytest.raises(memlink.ClosedError) as caught:
        msg.tobytes()
    assert "closed" in str(caught.value)
    msg.release()  # nothing to do any more
    tx.close()
    with pytest.raises(memlink.ClosedError):
        loan.write(0, b"late")
    loan.abandon()


def test_two_threads_sharing_a_receiver_get_whole_messages(name):
    count = 3000

    def message(i):
        size = 8 + (i * 37) % 700
        return struct.pack("<I", i) + bytes([i % 251]) * (size - 4)

    with memlink.Sender.create(name, capacity=1 << 16, max_message=1024) as tx, \
            memlink.Receiver.open(name) as rx:
        got, bad = [], []
        deadline = time.monotonic() + 60

        def drain(use_try):
            while len(got) + len(bad) < count and time.monotonic() < deadline:
                try:
                    m = rx.try_recv() if use_try else rx.recv(0.01)
                except (memlink.TimeoutError, memlink.StateError):
                    continue  # the other thread is inside: one call at a time
                if m is None:
                    continue
                (i,) = struct.unpack_from("<I", m)
                (got if m == message(i) else bad).append(i)

        threads = [threading.Thread(target=drain, args=(k == 0,)) for k in range(2)]
        for t in threads:
            t.start()
        for i in range(count):
            tx.send(message(i), timeout=30)
        for t in threads:
            t.join(90)
        assert bad == [] and sorted(got) == list(range(count))


def test_a_blocked_recv_lets_other_threads_run(name):
    with memlink.Sender.create(name) as tx, memlink.Receiver.open(name) as rx:
        result = []
        waiter = threading.Thread(target=lambda: result.append(rx.recv(30)))
        waiter.start()
        # Python code runs while the waiter blocks: it could not without
        # the GIL released. Poll until the waiter is inside recv.
        spins = 0
        deadline = time.monotonic() + 30
        while True:
            assert time.monotonic() < deadline
            try:
                rx.try_recv()
            except memlink.StateError:
                break
            spins += 1
        for _ in range(100000):
            spins += 1
        assert waiter.is_alive()
        with pytest.raises(memlink.StateError):
            rx.close()  # refused while the waiter is inside; stays open
        tx.send(b"wake")
        waiter.join(30)
        assert result == [b"wake"] and spins >= 100000


def _interrupt_main_once(inside):
    """A thread that waits until `inside()` says the main thread is blocked,
    then sends it SIGINT; returns (thread, [time sent])."""
    sent = []

    def run():
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not inside():
            pass
        sent.append(time.monotonic())
        signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)

    t = threading.Thread(target=run)
    t.start()
    return t, sent


def _busy(endpoint):
    """Whether another thread is inside a call on `endpoint`."""
    try:
        endpoint.connected
    except memlink.StateError:
        return True
    return False


@pytest.mark.parametrize("operation", ["recv", "borrow", "send", "loan", "event", "iteration"])
def test_ctrl_c_interrupts_a_blocking_call_within_100_ms(name, operation):
    with memlink.Sender.create(name, capacity=1024, max_message=64) as tx, \
            memlink.Receiver.open(name) as rx, \
            memlink.NamedEvent.create(name + "-ev") as ev:
        if operation in ("send", "loan"):
            while tx.try_send(b"f" * 64):
                pass  # full: the next send or loan blocks
        block, probe = {
            "recv": (lambda: rx.recv(timeout=30), lambda: _busy(rx)),
            "borrow": (lambda: rx.borrow(timeout=30), lambda: _busy(rx)),
            "iteration": (lambda: next(iter(rx)), lambda: _busy(rx)),
            "send": (lambda: tx.send(b"f" * 64, timeout=30), lambda: _busy(tx)),
            "loan": (lambda: tx.loan(64, timeout=30), lambda: _busy(tx)),
            "event": (lambda: ev.wait(timeout=30), lambda: ev.waiters > 0),
        }[operation]
        t, sent = _interrupt_main_once(probe)
        with pytest.raises(KeyboardInterrupt):
            block()
        took = time.monotonic() - sent[0]
        t.join(30)
        assert took < 0.1, "KeyboardInterrupt came %.3f s after SIGINT" % took
        # The endpoint is usable afterwards.
        assert not _busy(rx) and not _busy(tx)


def test_many_to_one_and_broadcast(name):
    with memlink.Receiver.create(name, kind=memlink.ChannelKind.MANY_TO_ONE, max_senders=3) as rx:
        senders = [memlink.Sender.open(name) for _ in range(3)]
        with pytest.raises(memlink.NoFreeSlotError):
            memlink.Sender.open(name)
        for i, s in enumerate(senders):
            s.send(b"from %d" % i)
        assert sorted(rx.recv(1.0) for _ in range(3)) == [b"from 0", b"from 1", b"from 2"]
        for s in senders:
            s.close()
    b = name + "-b"
    with memlink.Sender.create(b, kind="broadcast", max_receivers=2) as tx:
        readers = [memlink.Receiver.open(b) for _ in range(2)]
        tx.send(b"to all")
        assert [r.recv(1.0) for r in readers] == [b"to all", b"to all"]
        for r in readers:
            r.close()
    lossy = name + "-l"
    with memlink.Sender.create(lossy, kind=memlink.ChannelKind.BROADCAST, lossy=True,
                               capacity=1024, max_message=64) as tx, \
            memlink.Receiver.open(lossy) as rx:
        assert tx.lossy and rx.lossy
        tx.send(b"first")
        assert rx.recv(1.0) == b"first" and rx.take_missed() == 0
        for i in range(200):
            tx.send(b"%08d" % i)  # never waits for the reader
        with pytest.raises(memlink.UnsupportedError):
            tx.loan(8)
        with pytest.raises(memlink.UnsupportedError):
            rx.borrow(0.1)
        got = []
        while (m := rx.try_recv()) is not None:
            got.append(m)
        assert got[-1] == b"%08d" % 199 and rx.take_missed() == 200 - len(got)
    with pytest.raises(memlink.InvalidArgumentError):
        memlink.Sender.create(name + "-x", kind="sideways")
    with pytest.raises(memlink.InvalidArgumentError):
        memlink.Sender.create(name + "-x", capacity=1000)  # not a power of two
    with pytest.raises(memlink.InvalidArgumentError):
        memlink.Sender.create(name + "-x", wait="sleep")


def test_wait_strategies_and_waits(name):
    for wait in ("spin", "park", "spin_then_park"):
        n = "%s-%s" % (name, wait)
        with memlink.Receiver.create(n, wait=wait) as rx:
            with pytest.raises(TimeoutError):
                rx.wait_for_sender(0.01)
            with memlink.Sender.open(n, wait=wait) as tx:
                tx.wait_for_receiver(1.0)
                rx.wait_for_sender(1.0)
                tx.send(wait)
                assert rx.recv(1.0) == wait.encode()
                tx.wait_drained(1.0)


SENDER = """
import sys, memlink
name, count = sys.argv[1], int(sys.argv[2])
with memlink.Sender.open(name) as tx:
    for i in range(count):
        if i % 2:
            tx.send(b"message %d" % i, timeout=30)
        else:
            body = b"message %d" % i
            with tx.loan(len(body), timeout=30) as loan:
                loan.buffer[:] = body
                loan.commit()
    tx.wait_drained(30)
print("sent", count, flush=True)
"""


def test_messages_between_processes(name, child):
    count = 5000
    with memlink.Receiver.create("Global\\" + name, capacity=1 << 14) as rx:
        c = child(SENDER, "Global\\" + name, count)
        for i, m in enumerate(rx):
            assert m == b"message %d" % i
        assert i == count - 1
        assert c.expect("sent") == "sent %d" % count
        c.succeed()


def test_killed_sender_disconnects_a_waiting_receiver(name, child):
    with memlink.Receiver.create(name) as rx:
        c = child("""
            import sys, memlink
            tx = memlink.Sender.open(sys.argv[1])
            tx.send(b"before")
            print("sent", flush=True)
            sys.stdin.readline()
        """, name)
        c.expect("sent")
        assert rx.recv(30) == b"before"
        c.kill()
        started = time.monotonic()
        with pytest.raises(memlink.DisconnectedError):
            rx.recv(30)
        assert time.monotonic() - started < 5


def test_killed_receiver_disconnects_a_blocked_sender(name, child):
    with memlink.Sender.create(name, capacity=1024, max_message=64) as tx:
        c = child("""
            import sys, memlink
            rx = memlink.Receiver.open(sys.argv[1])
            with rx.borrow(30) as m:
                print("borrowed", m.tobytes().decode(), flush=True)
                sys.stdin.readline()  # killed while holding the borrow
        """, name)
        tx.send(b"first")
        c.expect("borrowed first")
        while tx.try_send(b"z" * 60):
            pass
        c.kill()
        with pytest.raises(memlink.DisconnectedError):
            tx.send(b"z" * 60, timeout=30)


def test_a_dropped_loan_or_borrow_is_ended(name):
    with memlink.Sender.create(name) as tx, memlink.Receiver.open(name) as rx:
        tx.loan(8).write(0, b"lost")  # dropped at once: abandoned
        tx.send(b"kept")
        rx.borrow(1.0)  # dropped: released, so "kept" is consumed
        assert rx.try_recv() is None
        tx.send(b"next")
        assert rx.recv(1.0) == b"next"


def test_bad_input_is_a_clear_exception(name):
    with memlink.Mapping.create(name, 4096):
        with pytest.raises((memlink.WrongKindError, memlink.CorruptError)):
            memlink.Receiver.open(name)  # a plain mapping is no channel
    with pytest.raises(memlink.NotFoundError):
        memlink.Sender.open(name)
    with pytest.raises(memlink.AlreadyExistsError):
        with memlink.Sender.create(name):
            memlink.Receiver.create(name)
    with pytest.raises(OverflowError):
        memlink.Sender.create(name, capacity=-1)
    with pytest.raises(memlink.InvalidArgumentError):
        memlink.Sender.create(name, max_message=0)
    with pytest.raises(memlink.InvalidArgumentError):
        memlink.Sender.create(name, kind=3.5)
    tx = memlink.Sender.create(name)
    tx.close()
    tx.close()  # idempotent
    for call in (lambda: tx.send(b"x"), lambda: tx.try_send(b"x"), lambda: tx.loan(1),
                 lambda: tx.connected, lambda: tx.wait_drained(0)):
        with pytest.raises(memlink.ClosedError):
            call()
    assert tx.closed and "Sender" in repr(tx)


def test_inspect_channel(name):
    with memlink.Sender.create(name, kind=memlink.ChannelKind.BROADCAST, max_receivers=2,
                               capacity=4096, max_message=100) as tx, \
            memlink.Receiver.open(name) as rx:
        tx.send(b"x" * 10)
        info = memlink.inspect_channel(name)
        assert (info.kind, info.capacity, info.max_message, info.messages) == \
            (memlink.ChannelKind.BROADCAST, 4096, 100, 1)
        assert info.used > 0 and info.bytes >= 10 and not info.lossy
        assert [e.alive for e in info.senders] == [True]
        assert [e.alive for e in info.receivers] == [True, False]
        assert info.receivers[0].pid == os.getpid() and "capacity=4096" in repr(info)
        rx.recv(1.0)
        assert memlink.inspect_channel(name).used == 0
    with memlink.Mapping.create(name, 4096):
        with pytest.raises(memlink.WrongKindError):
            memlink.inspect_channel(name)
