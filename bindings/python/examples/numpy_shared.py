"""numpy over a shared mapping, with no copy: a producer process fills a
float64 array that lives in a named mapping; the consumer (this process)
sees every element change in place. A NamedEvent says "data is ready".

    python3 numpy_shared.py
"""
import os
import subprocess
import sys

import numpy as np

import memlink

N = 1_000_000
PRODUCER = """
import sys, numpy as np, memlink
with memlink.Mapping.open(sys.argv[1]) as m, m.view() as v, \\
        memlink.NamedEvent.open(sys.argv[1] + "-ready") as ready:
    a = np.frombuffer(v, dtype=np.float64)   # the shared bytes themselves
    a[:] = np.linspace(0.0, 1.0, a.size)
    del a                                    # before the view closes
    ready.set()
"""


def main():
    name = "numpy-demo-%d" % os.getpid()
    with memlink.Mapping.create(name, N * 8) as m, m.view() as v, \
            memlink.NamedEvent.create(name + "-ready") as ready:
        a = np.frombuffer(v, dtype=np.float64)
        producer = subprocess.Popen([sys.executable, "-c", PRODUCER, name])
        if not ready.wait(timeout=30):
            raise SystemExit("the producer never said ready")
        print("sum %.1f, a[-1] = %.1f, no copy: %s" % (a.sum(), a[-1], not a.flags.owndata))
        del a
        producer.wait(30)


if __name__ == "__main__":
    main()
