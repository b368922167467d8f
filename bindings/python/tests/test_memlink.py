"""Tests of the Python binding itself: error mapping, timeouts, loans,
borrows, buffers. Run: MEMLINK_LIBRARY=.../libmemlink.so python3 -m unittest
(PYTHONPATH=bindings/python)."""
import gc
import itertools
import os
import struct
import threading
import time
import unittest

import memlink

_counter = itertools.count()


def unique(tag):
    return "mltest-xl-py-%s-%d-%d" % (tag, os.getpid(), next(_counter))


class Errors(unittest.TestCase):
    def test_not_found_is_a_file_not_found_error(self):
        with self.assertRaises(FileNotFoundError) as caught:
            memlink.Mapping.open(unique("missing"))
        self.assertIsInstance(caught.exception, memlink.NotFoundError)
        self.assertEqual(caught.exception.code, memlink.ErrorCode.NOT_FOUND)
        self.assertIn("does not exist", str(caught.exception))

    def test_already_exists_and_invalid_names(self):
        name = unique("twice")
        with memlink.Mapping.create(name, 4096):
            with self.assertRaises(FileExistsError):
                memlink.Mapping.create(name, 4096)
        with self.assertRaises(memlink.InvalidArgumentError) as caught:
            memlink.Mapping.create("a/b", 4096)
        self.assertEqual(caught.exception.code, memlink.ErrorCode.INVALID_NAME)

    def test_out_of_range_and_access(self):
        name = unique("range")
        with memlink.Mapping.create(name, 100) as m, m.view() as v:
            with self.assertRaises(memlink.MemlinkError) as caught:
                v.write(98, b"abc")
            self.assertEqual(caught.exception.code, memlink.ErrorCode.OUT_OF_RANGE)
            with memlink.Mapping.open(name, memlink.Access.READ_ONLY) as ro, ro.view() as rv:
                with self.assertRaises(PermissionError):
                    rv.write(0, b"x")

    def test_closed_handles_are_refused_in_python(self):
        m = memlink.Mapping.create(unique("closed"), 64)
        m.close()
        m.close()  # twice is fine
        with self.assertRaises(ValueError):
            m.size


class Mappings(unittest.TestCase):
    def test_views_copy_bytes_and_words(self):
        name = unique("view")
        m, created = memlink.Mapping.open_or_create(name, 8192)
        with m:
            self.assertTrue(created)
            self.assertEqual(m.size, 8192)
            self.assertTrue(m.name.endswith(name))
            with m.view(4096) as v:
                self.assertEqual(len(v), 4096)
                v.write(10, bytearray(b"bytearray"))
                v.write(20, memoryview(b"memoryview"))
                v.write(30, "text")
                self.assertEqual(v.read(10, 9), b"bytearray")
                self.assertEqual(v.read(20, 10), b"memoryview")
                self.assertEqual(v.read(30, 4), b"text")
                v.store_u64(64, 2 ** 40)
                self.assertEqual(v.load_u64(64), 2 ** 40)
                v.flush()
            again, created = memlink.Mapping.open_or_create(name, 1)
            with again:
                self.assertFalse(created)
                self.assertEqual(again.size, 8192)


    def test_negative_offsets_and_lengths_are_value_errors(self):
        with memlink.Mapping.create(unique("negative"), 64) as m, m.view() as v:
            for call in (lambda: v.read(-1, 3), lambda: v.read(0, -3),
                         lambda: v.write(-1, b"x"), lambda: v.load_u32(-4),
                         lambda: v.store_u64(-8, 1), lambda: v.flush_range(-1, 1),
                         lambda: m.view(-1)):
                with self.assertRaises(ValueError) as caught:
                    call()
                self.assertNotIsInstance(caught.exception, memlink.MemlinkError)
                self.assertIn(">= 0", str(caught.exception))
        with self.assertRaises(ValueError):
            memlink.Mapping.create(unique("negative-size"), -1)

    def test_flush_range(self):
        with memlink.Mapping.create(unique("flush"), 8192) as m, m.view() as v:
            v.write(4096, b"abc")
            v.flush_range(4096, 3)
            with self.assertRaises(memlink.MemlinkError) as caught:
                v.flush_range(8000, 1000)
            self.assertEqual(caught.exception.code, memlink.ErrorCode.OUT_OF_RANGE)


class Events(unittest.TestCase):
    def test_wait_times_out_then_is_released(self):
        name = unique("event")
        with memlink.Event.create(name, memlink.EventKind.AUTO_RESET) as e, \
                memlink.Event.open(name) as other:
            self.assertFalse(other.wait(0.01))
            e.set()
            self.assertTrue(other.wait(1.0))
            self.assertFalse(e.is_set())

    def test_huge_timeouts_wait_forever_and_bad_ones_are_refused(self):
        # int64 milliseconds wrapped: 2**64 ms became 0, "only check".
        with memlink.Event.create(unique("huge"), memlink.EventKind.MANUAL_RESET) as e:
            for huge in (2 ** 64 / 1000, 2 ** 70, float("inf")):
                e.reset()
                setter = threading.Timer(0.2, e.set)
                setter.start()
                try:
                    started = time.monotonic()
                    self.assertTrue(e.wait(timeout=huge), huge)
                    self.assertGreaterEqual(time.monotonic() - started, 0.1)
                finally:
                    setter.cancel()
                    e.set()
            for bad in (-1, -0.5, float("nan"), float("-inf")):
                with self.assertRaises(ValueError):
                    e.wait(timeout=bad)
            with self.assertRaises(TypeError):
                e.wait(timeout="1")


class Channels(unittest.TestCase):
    def test_send_receive_try_and_timeouts(self):
        name = unique("chan")
        with memlink.Sender.create(name, capacity=4096, max_message=512) as tx, \
                memlink.Receiver.open(name) as rx:
            self.assertIsNone(rx.try_recv())
            with self.assertRaises(TimeoutError):
                rx.recv(0.01)
            self.assertTrue(tx.send(b"one"))
            self.assertTrue(tx.try_send(bytearray(b"two")))
            self.assertTrue(tx.send(""))
            self.assertEqual(rx.recv(1.0), b"one")
            self.assertEqual(rx.try_recv(), b"two")
            self.assertEqual(rx.recv(1.0), b"")
            self.assertEqual(tx.max_message, 512)
            self.assertEqual(rx.max_message, 512)
            with self.assertRaises(memlink.MemlinkError) as caught:
                tx.send(b"x" * 513)
            self.assertEqual(caught.exception.code, memlink.ErrorCode.MESSAGE_TOO_LARGE)
            while tx.try_send(b"y" * 400):
                pass
            self.assertFalse(tx.send(b"y" * 400, timeout=0.01))  # full: timed out

    def test_loans_and_borrows(self):
        name = unique("loan")
        with memlink.Sender.create(name) as tx, memlink.Receiver.open(name) as rx:
            with tx.loan(10) as loan:
                loan.write(0, b"zero")
                loan.commit(4)
            with tx.loan(3) as loan:
                loan.write(0, b"abc")  # not committed: nothing is sent
            with self.assertRaises(ValueError):
                with tx.loan(2) as loan:
                    loan.write(1, b"too long")
            with rx.borrow(1.0) as message:
                self.assertEqual(message.tobytes(), b"zero")
                with self.assertRaises(memlink.MemlinkError) as caught:
                    rx.try_recv()
                self.assertEqual(caught.exception.code, memlink.ErrorCode.STATE)
            self.assertIsNone(rx.try_recv())

    def test_a_borrow_or_loan_outliving_its_endpoint_raises(self):
        # Used to read and write freed memory (a segfault).
        name = unique("outlive")
        tx = memlink.Sender.create(name)
        rx = memlink.Receiver.open(name)
        try:
            tx.send(b"x" * 100)
            borrowed = rx.borrow(1.0)
            loan = tx.loan(8)
            rx.close()  # releases the borrow
            with self.assertRaises(ValueError) as caught:
                borrowed.tobytes()
            self.assertIn("closed", str(caught.exception))
            self.assertFalse(borrowed.outstanding)
            borrowed.release()  # nothing to do any more
            tx.close()  # abandons the loan
            with self.assertRaises(ValueError):
                loan.write(0, b"late")
            with self.assertRaises(ValueError):
                loan.commit()
            loan.abandon()
        finally:
            rx.close()
            tx.close()

    def test_an_ended_loan_cannot_be_written(self):
        name = unique("ended")
        with memlink.Sender.create(name) as tx, memlink.Receiver.open(name) as rx:
            loan = tx.loan(4)
            loan.write(0, b"abcd")
            loan.commit()
            with self.assertRaises(ValueError) as caught:
                loan.write(0, b"over")  # into ring space that is the receiver's now
            self.assertIn("committed", str(caught.exception))
            with self.assertRaises(ValueError):
                loan.commit()
            loan = tx.loan(4)
            loan.abandon()
            with self.assertRaises(ValueError) as caught:
                loan.write(0, b"over")
            self.assertIn("abandoned", str(caught.exception))
            self.assertEqual(rx.recv(1.0), b"abcd")
            self.assertIsNone(rx.try_recv())
            with self.assertRaises(ValueError):
                tx.loan(-1)
            loan = tx.loan(4)
            with self.assertRaises(ValueError):
                loan.write(-1, b"x")
            with self.assertRaises(ValueError):
                loan.commit(-1)
            loan.abandon()

    def test_dropped_loans_and_borrows_are_ended(self):
        name = unique("dropped")
        with memlink.Sender.create(name) as tx, memlink.Receiver.open(name) as rx:
            tx.loan(8).write(0, b"lost")  # dropped at once: abandoned
            gc.collect()
            self.assertTrue(tx.send(b"kept"))
            rx.borrow(1.0)  # dropped: released, so "kept" is consumed
            gc.collect()
            self.assertIsNone(rx.try_recv())
            tx.send(b"next")
            self.assertEqual(rx.recv(1.0), b"next")
        # Dropped after their endpoints closed: nothing to do, no crash.
        tx = memlink.Sender.create(name)
        rx = memlink.Receiver.open(name)
        tx.send(b"m")
        loan, borrowed = tx.loan(1), rx.borrow(1.0)
        tx.close()
        rx.close()
        del loan, borrowed
        gc.collect()

    def test_two_threads_sharing_a_receiver_get_whole_messages(self):
        # recv copied out of one shared buffer after the native call, while
        # the other thread's call could be filling it: torn messages.
        name, count = unique("shared-rx"), 3000

        def message(i):
            size = 8 + (i * 37) % 700
            return struct.pack("<I", i) + bytes([i % 251]) * (size - 4)

        with memlink.Sender.create(name, capacity=1 << 16, max_message=1024) as tx, \
                memlink.Receiver.open(name) as rx:
            got, bad, busy = [], [], [0]
            deadline = time.monotonic() + 60

            def drain(use_try):
                while len(got) + len(bad) < count and time.monotonic() < deadline:
                    try:
                        m = rx.try_recv() if use_try else rx.recv(0.01)
                    except memlink.TimeoutError_:
                        continue
                    except memlink.MemlinkError as e:
                        if e.code != memlink.ErrorCode.STATE:
                            raise
                        busy[0] += 1  # the other thread is inside: as the C ABI says
                        continue
                    if m is None:
                        continue
                    (i,) = struct.unpack_from("<I", m)
                    (got if i < count and m == message(i) else bad).append(i)

            threads = [threading.Thread(target=drain, args=(k == 0,)) for k in range(2)]
            for t in threads:
                t.start()
            try:
                for i in range(count):
                    self.assertTrue(tx.send(message(i), timeout=30))
            finally:
                for t in threads:
                    t.join(90)
            self.assertEqual(bad, [])
            self.assertEqual(sorted(got), list(range(count)))

    def test_close_refused_while_another_thread_is_inside_keeps_the_handle(self):
        name = unique("close-busy")
        with memlink.Sender.create(name) as tx:
            rx = memlink.Receiver.open(name)
            result = []
            waiter = threading.Thread(target=lambda: result.append(rx.recv(30)))
            waiter.start()
            try:
                deadline = time.monotonic() + 10
                while True:  # until the waiter is inside recv
                    self.assertLess(time.monotonic(), deadline)
                    try:
                        rx.try_recv()
                    except memlink.MemlinkError as e:
                        if e.code == memlink.ErrorCode.STATE:
                            break
                        raise
                    time.sleep(0.005)
                with self.assertRaises(memlink.MemlinkError) as caught:
                    rx.close()
                self.assertEqual(caught.exception.code, memlink.ErrorCode.STATE)
            finally:
                tx.send(b"wake")
                waiter.join(30)
            self.assertEqual(result, [b"wake"])
            self.assertTrue(rx.connected)  # still open, not leaked
            rx.close()
            with self.assertRaises(ValueError):
                rx.try_recv()
            rx.close()

    def test_disconnection_ends_iteration(self):
        name = unique("iter")
        rx = memlink.Receiver.create(name)
        with memlink.Sender.open(name) as tx:
            for i in range(3):
                tx.send(b"%d" % i)
        self.assertEqual(list(rx), [b"0", b"1", b"2"])
        with self.assertRaises(ConnectionError):
            rx.recv(1.0)
        rx.close()


if __name__ == "__main__":
    unittest.main()
