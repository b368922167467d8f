"""Shared helpers: unique names (the shared-memory namespace is machine
wide), child processes that speak in lines, and a check that no test leaves
a mapping behind."""
import itertools
import os
import selectors
import subprocess
import sys
import textwrap
import time

import pytest

import memlink

_counter = itertools.count()
PATIENCE = 30.0  # seconds: every wait in a test is bounded


def unique(tag):
    """A name no other test or run uses."""
    return "mltest-py-%s-%d-%d-%x" % (tag, os.getpid(), next(_counter), time.monotonic_ns() & 0xFFFFFF)


@pytest.fixture
def name(request):
    return unique(request.node.name[:24].replace("[", "-").replace("]", ""))


class Child:
    """A Python child process running `code` (with `args` in sys.argv[1:]),
    read line by line; killed if the test ends while it runs."""

    def __init__(self, code, *args):
        self.proc = subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(code), *map(str, args)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, bufsize=1)
        self.lines = []

    def expect(self, prefix, timeout=PATIENCE):
        """The first line of output starting with `prefix` (fails after
        `timeout` seconds or when the child exits first)."""
        deadline = time.monotonic() + timeout
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("child never printed %r; it printed %r" % (prefix, self.lines))
                if not sel.select(left):
                    continue
                line = self.proc.stdout.readline()
                if not line:
                    raise AssertionError("child exited (%s) before printing %r; it printed %r; stderr: %s"
                                         % (self.proc.wait(PATIENCE), prefix, self.lines,
                                            self.proc.stderr.read()))
                line = line.rstrip("\n")
                self.lines.append(line)
                if line.startswith(prefix):
                    return line
        finally:
            sel.close()

    def tell(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def finish(self, timeout=PATIENCE):
        """Waits for the exit; returns (code, stdout, stderr)."""
        out, err = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, out, err

    def succeed(self, timeout=PATIENCE):
        code, out, err = self.finish(timeout)
        assert code == 0, "child failed (%s):\n%s\n%s" % (code, out, err)
        return out

    def kill(self):
        """kill -9."""
        self.proc.kill()
        self.proc.wait(PATIENCE)

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(PATIENCE)
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            f.close()


@pytest.fixture
def child():
    """child(code, *args) starts a Child; every one is killed at the end."""
    started = []

    def start(code, *args):
        c = Child(code, *args)
        started.append(c)
        return c

    yield start
    for c in started:
        c.close()


@pytest.fixture(autouse=True)
def no_leftovers():
    """Nothing of this test's names may outlive it."""
    yield
    mine = "mltest-py-"
    pid = "-%d-" % os.getpid()
    left = [i.name for i in memlink.list() if mine in i.name and pid in i.name and not i.persistent]
    assert left == [], "left behind: %r" % left
