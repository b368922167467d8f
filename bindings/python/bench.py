"""Benchmark of the Python module against what Python ships, measured in
the same run (figures and ratios, not a timed test):

1. 64-byte messages from one Python process to another, one way: memlink
   channel against multiprocessing.Pipe (send_bytes / recv_bytes).
2. 1 MiB messages: Receiver.borrow into numpy.frombuffer (no copy), the
   copy receive Receiver.recv (bytes) and recv_into (a reused buffer),
   against bytes(shm.buf) of multiprocessing.shared_memory.
3. Per-call overhead: send + recv of 64 bytes in one process.

    python3 bench.py [--quick]

Pin it for steadier figures (taskset -c 0,1 python3 bench.py); on a shared
machine the figures move from run to run, the ratios less.
"""
import multiprocessing as mp
import os
import statistics
import sys
import time
from multiprocessing import shared_memory

import numpy as np

import memlink

QUICK = "--quick" in sys.argv
MESSAGES = 50_000 if QUICK else 400_000
ROUNDS = 3 if QUICK else 5
SMALL = b"x" * 64
MIB = 1 << 20


def best(f, rounds=ROUNDS):
    """The best of `rounds` runs of f() -> (seconds, count): count / s."""
    rates = []
    for _ in range(rounds):
        seconds, count = f()
        rates.append(count / seconds)
    return max(rates), statistics.median(rates)


# -- 1. 64 B between processes ---------------------------------------------------

def memlink_sender(name, count, ready):
    with memlink.Sender.open(name) as tx:
        ready.set()
        for _ in range(count):
            tx.send(SMALL)
        tx.wait_drained(60)


def pipe_sender(conn, count, ready):
    ready.set()
    for _ in range(count):
        conn.send_bytes(SMALL)
    conn.close()


def memlink_between_processes():
    ctx = mp.get_context("spawn")
    name = "bench-py-%d-%d" % (os.getpid(), time.monotonic_ns())
    with memlink.Receiver.create(name, capacity=1 << 20, max_message=64) as rx:
        ready = ctx.Event()
        p = ctx.Process(target=memlink_sender, args=(name, MESSAGES, ready))
        p.start()
        ready.wait(60)
        rx.recv(60)
        started = time.perf_counter()
        for _ in range(MESSAGES - 1):
            rx.recv(60)
        seconds = time.perf_counter() - started
        p.join(60)
    return seconds, MESSAGES - 1


def pipe_between_processes():
    ctx = mp.get_context("spawn")
    recv_end, send_end = ctx.Pipe(duplex=False)
    ready = ctx.Event()
    p = ctx.Process(target=pipe_sender, args=(send_end, MESSAGES, ready))
    p.start()
    send_end.close()
    ready.wait(60)
    recv_end.recv_bytes()
    started = time.perf_counter()
    for _ in range(MESSAGES - 1):
        recv_end.recv_bytes()
    seconds = time.perf_counter() - started
    p.join(60)
    recv_end.close()
    return seconds, MESSAGES - 1


# -- 2. 1 MiB messages -------------------------------------------------------------

BATCH = 15  # 1 MiB messages that fit a 16 MiB ring at once: 15 MiB, beyond the caches


def big_messages():
    """Receive rates of 1 MiB, measured the same way for the channel and for
    shared_memory: "cold", 15 distinct MiB just written (by the sender, or
    into a 16 MiB segment), more than the caches hold; "hot", each MiB read
    just after it was written, moving through 16 MiB as a ring does.
    "reread" is the plain `bytes(shm.buf)` loop over one 1 MiB segment
    nobody writes: every read after the first hits the same cached lines,
    which no ring can do for consecutive messages."""
    name = "bench-py-big-%d-%d" % (os.getpid(), time.monotonic_ns())
    payload = np.random.default_rng(1).integers(0, 255, MIB, dtype=np.uint8)
    results = {}
    rounds = ROUNDS * 4
    with memlink.Sender.create(name, capacity=16 * MIB, max_message=MIB) as tx, \
            memlink.Receiver.open(name) as rx:
        target = bytearray(MIB)

        def cold(receive):
            def run():
                for _ in range(BATCH):
                    tx.send(payload)
                started = time.perf_counter()
                for _ in range(BATCH):
                    receive()
                return time.perf_counter() - started, BATCH
            return run

        def hot(receive):
            def run():
                spent = 0.0
                for _ in range(BATCH):
                    tx.send(payload)
                    started = time.perf_counter()
                    receive()
                    spent += time.perf_counter() - started
                return spent, BATCH
            return run

        def borrow():
            with rx.borrow(10) as m:
                a = np.frombuffer(m, dtype=np.uint8)  # no copy
                del a

        for key, receive in (("borrow", borrow), ("recv", lambda: rx.recv(10)),
                             ("recv_into", lambda: rx.recv_into(target, 10))):
            results[key, "cold"] = best(cold(receive), rounds)
            results[key, "hot"] = best(hot(receive), rounds)

    shm = shared_memory.SharedMemory(create=True, size=16 * MIB)
    try:
        tile = payload.tobytes()

        def shm_cold():
            for i in range(BATCH):
                shm.buf[i * MIB:(i + 1) * MIB] = tile
            started = time.perf_counter()
            for i in range(BATCH):
                bytes(shm.buf[i * MIB:(i + 1) * MIB])
            return time.perf_counter() - started, BATCH

        def shm_hot():
            spent = 0.0
            for i in range(BATCH):
                # As the sender writes each message: the next MiB of the
                # segment, then read at once.
                shm.buf[i * MIB:(i + 1) * MIB] = tile
                started = time.perf_counter()
                bytes(shm.buf[i * MIB:(i + 1) * MIB])
                spent += time.perf_counter() - started
            return spent, BATCH

        one = shared_memory.SharedMemory(create=True, size=MIB)
        try:
            one.buf[:] = tile

            def shm_reread():
                started = time.perf_counter()
                for _ in range(BATCH):
                    bytes(one.buf)
                return time.perf_counter() - started, BATCH

            results["shm", "cold"] = best(shm_cold, rounds)
            results["shm", "hot"] = best(shm_hot, rounds)
            results["shm", "reread"] = best(shm_reread, rounds)
        finally:
            one.close()
            one.unlink()
    finally:
        shm.close()
        shm.unlink()
    return results


# -- 3. per call -----------------------------------------------------------------

def per_call():
    name = "bench-py-call-%d-%d" % (os.getpid(), time.monotonic_ns())
    n = MESSAGES
    out = {}
    with memlink.Sender.create(name, capacity=1 << 16, max_message=64) as tx, \
            memlink.Receiver.open(name) as rx:
        def pair():
            send, recv = tx.send, rx.recv
            started = time.perf_counter()
            for _ in range(n):
                send(SMALL)
                recv()
            return time.perf_counter() - started, n

        def try_pair():
            send, recv = tx.try_send, rx.try_recv
            started = time.perf_counter()
            for _ in range(n):
                send(SMALL)
                recv()
            return time.perf_counter() - started, n

        def empty_loop():
            f = len
            started = time.perf_counter()
            for _ in range(n):
                f(SMALL)
                f(SMALL)
            return time.perf_counter() - started, n

        out["send+recv"] = best(pair)
        out["try_send+try_recv"] = best(try_pair)
        out["two len() calls"] = best(empty_loop)
    return out


def main():
    print("memlink %s, Python %s, %d CPUs visible%s" % (
        memlink.__version__, sys.version.split()[0], len(os.sched_getaffinity(0)),
        " (quick)" if QUICK else ""))
    print("\n1. 64 B messages, one Python process to another (best / median of %d runs)" % ROUNDS)
    ml = best(memlink_between_processes)
    pipe = best(pipe_between_processes)
    print("   memlink channel      %10.0f msg/s  (median %.0f)" % ml)
    print("   multiprocessing.Pipe %10.0f msg/s  (median %.0f)" % pipe)
    print("   ratio %.2fx (target >= 5x)" % (ml[0] / pipe[0]))

    print("\n2. 1 MiB messages, receive side (best / median; cold: 15 MiB just written, "
          "hot: each MiB read right after it was written, reread: one MiB nobody writes)")
    big = big_messages()
    gb = lambda r: r * MIB / 1e9  # noqa: E731
    for key, label in (("borrow", "borrow + numpy.frombuffer (no copy)"),
                       ("recv", "recv -> bytes (one copy)"),
                       ("recv_into", "recv_into(bytearray) (one copy)"),
                       ("shm", "shared_memory bytes(shm.buf)")):
        for temp in ("cold", "hot"):
            r = big[key, temp]
            print("   %-38s %-6s %9.0f msg/s %7.2f GB/s (median %.2f)"
                  % (label, temp, r[0], gb(r[0]), gb(r[1])))
    r = big["shm", "reread"]
    print("   %-38s %-6s %9.0f msg/s %7.2f GB/s (median %.2f)"
          % ("shared_memory bytes(shm.buf)", "reread", r[0], gb(r[0]), gb(r[1])))
    print("   reread: recv (hot) / bytes(shm.buf) = %.2fx" % (big["recv", "hot"][0] / big["shm", "reread"][0]))
    for temp in ("cold", "hot"):
        print("   %s: recv / bytes(shm.buf) = %.2fx (target >= 0.8x), recv_into / bytes(shm.buf) "
              "= %.2fx" % (temp, big["recv", temp][0] / big["shm", temp][0],
                           big["recv_into", temp][0] / big["shm", temp][0]))

    print("\n3. Per call, one process (64 B)")
    calls = per_call()
    for key, (rate, median) in calls.items():
        print("   %-20s %6.3f us per pair  (median %.3f us)" % (key, 1e6 / rate, 1e6 / median))
    print("   send+recv %.3f us (target <= 0.5 us)" % (1e6 / calls["send+recv"][0]))


if __name__ == "__main__":
    main()
