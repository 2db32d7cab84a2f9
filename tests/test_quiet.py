"""Native output (fd 1/2) is captured while converting and restored afterwards."""

import os
import subprocess
import sys

from tests.conftest import ROOT

SCRIPT = """
import os, sys
from hwbench.quiet import captured_output
with captured_output() as tail:
    os.write(2, b"native log line\\n")
    print("python line")
    sys.stderr.write("python err\\n")
print("tail:", tail)
"""


def test_fd_output_is_captured_and_restored() -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stderr == ""
    assert done.stdout == "tail: ['native log line', 'python line', 'python err']\n"


def test_restored_after_an_exception(capfd) -> None:
    from hwbench.quiet import captured_output

    try:
        with captured_output():
            os.write(2, b"inside\n")
            raise ValueError("boom")
    except ValueError:
        pass
    os.write(2, b"outside\n")
    assert capfd.readouterr().err == "outside\n"
