"""Zero-copy messages of 1 MiB: the sender fills a loan with numpy, the
receiver reads the borrowed message with numpy, and neither copies.

    python3 zero_copy.py
"""
import os

import numpy as np

import memlink


def main():
    name = "zero-copy-demo-%d" % os.getpid()
    with memlink.Sender.create(name, capacity=4 << 20, max_message=1 << 20) as tx, \
            memlink.Receiver.open(name) as rx:           # normally another process
        with tx.loan(1 << 20) as loan:
            out = np.frombuffer(loan, dtype=np.float32)   # writable, in the ring
            out[:] = np.arange(out.size, dtype=np.float32)
            del out                                       # before commit
            loan.commit()
        with rx.borrow(timeout=1.0) as message:
            arr = np.frombuffer(message, dtype=np.float32)  # read-only, in the ring
            print("received %d floats, last %.0f, sum %.0f" % (arr.size, arr[-1], arr.sum()))
            del arr                                       # before the borrow ends


if __name__ == "__main__":
    main()
