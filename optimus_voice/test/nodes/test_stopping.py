"""A Ctrl-C that lands in a finalizer while a node stops prints nothing; other finalizer errors still show."""

import subprocess
import sys

SCRIPT = """
from optimus_voice.nodes import base
import sys
sys.unraisablehook = base._quiet_interrupts()

class Interrupted:
    def __del__(self):
        raise KeyboardInterrupt

class Broken:
    def __del__(self):
        raise ValueError("a real finalizer bug")

Interrupted()
Broken()
print("still running")
"""


def test_an_interrupt_in_a_finalizer_is_quiet_and_a_real_error_is_not():
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "still running"
    assert "KeyboardInterrupt" not in done.stderr
    assert "ValueError: a real finalizer bug" in done.stderr
