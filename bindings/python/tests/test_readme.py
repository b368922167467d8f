"""Every Python example of the binding's README runs, in a process of its own."""
import pathlib
import re
import subprocess
import sys

import pytest

README = pathlib.Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = re.findall(r"^```python\n(.*?)^```$", README.read_text(), re.S | re.M)


def test_the_readme_has_examples():
    assert len(BLOCKS) >= 8


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_example_runs(index):
    run = subprocess.run([sys.executable, "-c", BLOCKS[index]], capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 0, "example %d failed:\n%s\n%s" % (index, BLOCKS[index], run.stderr)
    assert run.stdout.strip(), "example %d printed nothing" % index
