"""The article's second process, in Python: opens Global\\NAME (the C++
server's file-backed mapping), waits for the server's event, reads the
message under the robust mutex. Then the server takes the lock and is
killed with kill -9: locking next, this client learns that the owner died,
repairs the message, marks the mutex consistent and goes on. The same
steps as bindings/csharp/examples/ArticleClient.cs; the layout and events
are described in bindings/cpp/examples/article_server.cpp.

    python3 article_client.py NAME
"""
import sys

import memlink

PATIENCE = 30.0  # seconds: every wait is bounded
MUTEX_SIZE = 128  # the robust mutex's bytes, before the message


def read_message(data):
    return data.read(0, 256).split(b"\0", 1)[0].decode()


def main(name):
    mapping = memlink.Mapping.open("Global\\" + name)
    mutex = memlink.RobustMutex.attach(mapping.view(0, MUTEX_SIZE), 0)
    ready = memlink.NamedEvent.open(name + "-ready")
    go = memlink.NamedEvent.open(name + "-go")
    held = memlink.NamedEvent.open(name + "-held")
    data = mapping.view(MUTEX_SIZE)

    if not ready.wait(PATIENCE):
        raise SystemExit("client: the server never said ready")
    with mutex.lock(PATIENCE):
        message = read_message(data)
    print("client read: " + message, flush=True)

    go.set()
    if not held.wait(PATIENCE):
        raise SystemExit("client: the server never took the lock again")
    # Blocks until the server lets go, or dies holding the lock.
    with mutex.lock(PATIENCE) as guard:
        print("client: owner died: " + str(guard.owner_died), flush=True)
        if guard.owner_died:
            # The dead owner's message is half-written: repair it.
            data.write(0, b"Repaired by the Python client.\0")
            data.flush()
            guard.mark_consistent()
    with mutex.lock(PATIENCE) as guard:
        message = read_message(data)
        died_again = guard.owner_died
    print("client read: " + message + (" (owner died again?)" if died_again else ""), flush=True)
    return 1 if died_again else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
