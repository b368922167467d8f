"""Tests of the Python binding itself: error mapping, timeouts, loans,
borrows, buffers. Run: MEMLINK_LIBRARY=.../libmemlink.so python3 -m unittest
(PYTHONPATH=bindings/python)."""
import itertools
import os
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


class Events(unittest.TestCase):
    def test_wait_times_out_then_is_released(self):
        name = unique("event")
        with memlink.Event.create(name, memlink.EventKind.AUTO_RESET) as e, \
                memlink.Event.open(name) as other:
            self.assertFalse(other.wait(0.01))
            e.set()
            self.assertTrue(other.wait(1.0))
            self.assertFalse(e.is_set())


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
