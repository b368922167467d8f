"""The article's client in Python: reads the server's greeting from the
named mapping (through memlink, and through Python's own
multiprocessing.shared_memory, since Global\\NAME is the POSIX object
/NAME), says it is ready, and receives every message. The protocol is the
one of bindings/cpp/examples/server.cpp.

    python3 client.py NAME LABEL
"""
import sys
from multiprocessing import resource_tracker, shared_memory

import memlink

PATIENCE = 30.0  # seconds: every wait is bounded


def read_with_shared_memory(os_name):
    """The greeting, read by the standard library alone."""
    shm = shared_memory.SharedMemory(name=os_name.lstrip("/"), create=False)
    try:
        return bytes(shm.buf[:256]).split(b"\0", 1)[0].decode()
    finally:
        shm.close()
        # Before Python 3.13, attaching registers the segment with the
        # resource tracker, which would unlink the server's mapping at exit.
        resource_tracker.unregister(shm._name, "shared_memory")


def main(name, label):
    # Attach first: a broadcast channel delivers what is sent after.
    with memlink.Receiver.open(name) as rx, \
            memlink.Mapping.open("Global\\" + name + "-map", memlink.Access.READ_ONLY) as mapping, \
            mapping.view(0, 256) as view, \
            memlink.Sender.open(name + "-up") as up:
        greeting = view[0:256].split(b"\0", 1)[0].decode()
        via_stdlib = read_with_shared_memory(mapping.os_name)
        if via_stdlib != greeting:
            raise SystemExit("shared_memory read %r" % via_stdlib)
        up.send("ready " + label)
        received = 0
        while True:
            with rx.borrow(PATIENCE) as message:  # zero-copy
                if message.buffer == b"bye":
                    break
                expected = b"message %d" % received
                if message.buffer != expected:
                    raise SystemExit("got %r, expected %r" % (message.tobytes(), expected))
            received += 1
        up.send("done %s %d" % (label, received))
        print("client %s: %d messages; mapping says '%s' (same through "
              "multiprocessing.shared_memory)" % (label, received, greeting))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: client.py NAME LABEL")
    try:
        main(sys.argv[1], sys.argv[2])
    except memlink.Error as e:
        sys.exit("client %s: %s: %s" % (sys.argv[2], type(e).__name__, e))
