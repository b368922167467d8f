"""asyncio: `await rx.recv_async()` and `await tx.send_async()`, waited for
by one reactor thread on a memlink WaitSet; real second processes, kill -9,
cancellation, timeouts, and an event loop that stays free meanwhile."""
import asyncio
import threading
import time

import pytest

import memlink
from conftest import PATIENCE


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, PATIENCE))


def done(c):
    """Lets a SEND_LATER child go (communicate closes its stdin) and checks
    its exit."""
    c.succeed()


SEND_LATER = """
    import sys, memlink
    tx = memlink.Sender.open(sys.argv[1])
    print("attached", flush=True)
    for line in sys.stdin:
        if line.strip() == "send":
            tx.send(b"from the child")
            print("sent", flush=True)
"""


def test_recv_async_gets_a_message_from_another_process(name, child):
    with memlink.Receiver.create(name) as rx:
        c = child(SEND_LATER, name)
        c.expect("attached")

        async def main():
            task = asyncio.ensure_future(rx.recv_async())
            # The loop stays free while the receive waits.
            ticks = 0
            for _ in range(5):
                await asyncio.sleep(0.01)
                ticks += 1
            assert not task.done() and ticks == 5
            c.tell("send")
            return await task

        assert run(main()) == b"from the child"
        c.expect("sent")
        done(c)


def test_many_receivers_in_one_loop_each_get_their_own(name, child):
    names = ["%s-%d" % (name, i) for i in range(4)]
    receivers = [memlink.Receiver.create(n) for n in names]
    try:
        kids = [child(SEND_LATER, n) for n in names]
        for k in kids:
            k.expect("attached")

        async def main():
            tasks = [asyncio.ensure_future(rx.recv_async()) for rx in receivers]
            await asyncio.sleep(0.02)
            assert not any(t.done() for t in tasks)
            # Answered in reverse order: each task gets its own channel's message.
            for k in reversed(kids):
                k.tell("send")
                k.expect("sent")
            return await asyncio.gather(*tasks)

        assert run(main()) == [b"from the child"] * 4
        for k in kids:
            done(k)
    finally:
        for rx in receivers:
            rx.close()


def test_a_killed_sender_ends_recv_async_with_disconnected(name, child):
    with memlink.Receiver.create(name) as rx:
        c = child(SEND_LATER, name)
        c.expect("attached")

        async def main():
            task = asyncio.ensure_future(rx.recv_async())
            await asyncio.sleep(0.02)
            c.kill()
            started = time.monotonic()
            with pytest.raises(memlink.DisconnectedError):
                await task
            return time.monotonic() - started

        took = run(main())
        assert took < 1.0, "a peer killed with kill -9 seen after %.3f s" % took


def test_recv_async_times_out(name):
    with memlink.Sender.create(name) as tx, memlink.Receiver.open(name) as rx:
        async def main():
            started = time.monotonic()
            with pytest.raises(memlink.TimeoutError):
                await rx.recv_async(timeout=0.05)
            took = time.monotonic() - started
            assert 0.045 <= took < 5
            tx.send(b"x")
            return await rx.recv_async(timeout=0.05)

        assert run(main()) == b"x"


def test_cancelling_leaves_the_message_and_frees_the_receiver(name):
    with memlink.Sender.create(name) as tx, memlink.Receiver.open(name) as rx:
        async def main():
            task = asyncio.ensure_future(rx.recv_async())
            await asyncio.sleep(0.02)
            with pytest.raises(memlink.StateError):
                rx.try_recv()  # the pending call is inside
            with pytest.raises(memlink.StateError):
                await rx.recv_async()  # one call at a time
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            # Free at once after the cancel, and nothing was taken.
            assert rx.try_recv() is None
            tx.send(b"kept")
            return rx.try_recv()

        assert run(main()) == b"kept"


def test_wait_for_cancels_cleanly(name):
    with memlink.Sender.create(name) as tx, memlink.Receiver.open(name) as rx:
        async def main():
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(rx.recv_async(), 0.05)
            tx.send(b"after")
            return await rx.recv_async()

        assert run(main()) == b"after"


def test_send_async_waits_for_room_taken_by_another_process(name, child):
    with memlink.Sender.create(name, capacity=1024, max_message=256) as tx:
        c = child("""
            import sys, memlink
            rx = memlink.Receiver.open(sys.argv[1])
            print("attached", flush=True)
            got = 0
            for line in sys.stdin:
                if line.strip() == "drain":
                    while rx.try_recv() is not None:
                        got += 1
                    print("drained", got, flush=True)
        """, name)
        c.expect("attached")
        big = b"x" * 200
        while tx.try_send(big):
            pass

        async def main():
            task = asyncio.ensure_future(tx.send_async(big))
            await asyncio.sleep(0.02)
            assert not task.done()
            c.tell("drain")
            await task

        run(main())
        c.expect("drained")
        done(c)


def test_send_async_times_out_and_disconnects(name):
    with memlink.Sender.create(name, capacity=1024, max_message=256) as tx:
        rx = memlink.Receiver.open(name)
        while tx.try_send(b"y" * 200):
            pass

        async def main():
            with pytest.raises(memlink.TimeoutError):
                await tx.send_async(b"y" * 200, timeout=0.05)
            rx.close()
            with pytest.raises(memlink.DisconnectedError):
                await tx.send_async(b"y" * 200)

        run(main())


def test_two_event_loops_in_two_threads(name):
    """The reactor resolves each future on its own loop."""
    receivers = [memlink.Receiver.create("%s-%d" % (name, i)) for i in range(2)]
    senders = [memlink.Sender.open("%s-%d" % (name, i)) for i in range(2)]
    results = {}
    started = threading.Barrier(3)

    def worker(i):
        async def main():
            task = asyncio.ensure_future(receivers[i].recv_async(timeout=PATIENCE))
            await asyncio.sleep(0)
            started.wait(PATIENCE)
            return await task
        results[i] = asyncio.run(main())

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    started.wait(PATIENCE)
    for i, tx in enumerate(senders):
        tx.send(b"to %d" % i)
    for t in threads:
        t.join(PATIENCE)
    for e in senders + receivers:
        e.close()
    assert results == {0: b"to 0", 1: b"to 1"}


def test_bad_timeouts_are_refused(name):
    with memlink.Sender.create(name) as tx, memlink.Receiver.open(name) as rx:
        with pytest.raises(ValueError):
            rx.recv_async(timeout=-1)
        with pytest.raises(ValueError):
            tx.send_async(b"x", timeout=float("nan"))


SET_LATER = """
    import sys, memlink
    ev = memlink.NamedEvent.open(sys.argv[1])
    print("attached", flush=True)
    for line in sys.stdin:
        if line.strip() == "set":
            ev.set()
            print("set", flush=True)
"""


def test_event_wait_async_released_by_another_process(name, child):
    with memlink.NamedEvent.create(name) as ev:
        c = child(SET_LATER, name)
        c.expect("attached")

        async def main():
            task = asyncio.ensure_future(ev.wait_async())
            for _ in range(5):
                await asyncio.sleep(0)  # the loop stays free
            assert not task.done()
            c.tell("set")
            return await task

        assert run(main()) is True
        c.expect("set")
        assert not ev.is_set(), "the wait took the auto-reset signal"
        done(c)


def test_event_wait_async_times_out_and_takes_a_set_signal_at_once(name):
    with memlink.NamedEvent.create(name) as ev:
        started = time.monotonic()
        assert run(ev.wait_async(timeout=0.05)) is False
        assert time.monotonic() - started >= 0.045
        ev.set()
        assert run(ev.wait_async(timeout=0)) is True
        assert not ev.is_set()
    with memlink.NamedEvent.create(name + "-manual", memlink.EventKind.MANUAL_RESET) as ev:
        ev.set()

        async def both():
            return await asyncio.gather(ev.wait_async(), ev.wait_async())

        assert run(both()) == [True, True]
        assert ev.is_set(), "a manual-reset event stays set"


def test_event_wait_async_cancelled_takes_no_signal(name):
    with memlink.NamedEvent.create(name) as ev:

        async def cancelled_while_waiting():
            task = asyncio.ensure_future(ev.wait_async())
            await asyncio.sleep(0)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

        run(cancelled_while_waiting())
        ev.set()
        assert ev.is_set(), "nothing waits any more"
        ev.reset()

        async def set_then_cancelled():
            # Set and cancelled in one step of the loop: the reactor may
            # have taken the signal for the wait; the cancelled wait gives
            # it back.
            task = asyncio.ensure_future(ev.wait_async())
            await asyncio.sleep(0)
            ev.set()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

        for _ in range(20):
            run(set_then_cancelled())
            assert ev.is_set(), "a cancelled wait took the signal"
            ev.reset()


def test_event_wait_async_beside_recv_async_on_one_reactor(name):
    with memlink.NamedEvent.create(name + "-ev") as ev, \
            memlink.Sender.create(name) as tx, memlink.Receiver.open(name) as rx:

        async def main():
            got = asyncio.ensure_future(rx.recv_async())
            signaled = asyncio.ensure_future(ev.wait_async())
            await asyncio.sleep(0)
            ev.set()
            assert await signaled is True
            assert not got.done()
            tx.send(b"after")
            return await got

        assert run(main()) == b"after"
