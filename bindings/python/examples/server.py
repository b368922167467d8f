"""The article's server in Python: a raw named mapping with a greeting,
then messages on a broadcast channel to every client that says it is ready.
The protocol is the one of bindings/cpp/examples/server.cpp.

    python3 server.py NAME CLIENTS COUNT
"""
import sys

import memlink

PATIENCE = 30.0  # seconds: every wait is bounded


def main(name, clients, count):
    with memlink.Mapping.create("Global\\" + name + "-map", 4096) as mapping, \
            mapping.view() as view, \
            memlink.Receiver.create(name + "-up", kind=memlink.ChannelKind.MANY_TO_ONE,
                                    max_senders=16) as up, \
            memlink.Sender.create(name, kind=memlink.ChannelKind.BROADCAST, max_receivers=8,
                                  max_message=1024) as tx:
        greeting = b"hello from the Python server\0"
        memoryview(view)[:len(greeting)] = greeting  # the buffer protocol: no copy
        print("server ready", flush=True)
        for _ in range(clients):
            print("server:", up.recv(PATIENCE).decode(), flush=True)
        for i in range(count):
            message = b"message %d" % i
            with tx.loan(len(message), PATIENCE) as loan:  # zero-copy
                loan.buffer[:] = message
                loan.commit()
        tx.send(b"bye")
        for _ in range(clients):
            print("server:", up.recv(PATIENCE).decode(), flush=True)
        print("server done: %d clients, %d messages each" % (clients, count))


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit("usage: server.py NAME CLIENTS COUNT")
    try:
        main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
    except memlink.Error as e:
        sys.exit("server: %s: %s" % (type(e).__name__, e))
