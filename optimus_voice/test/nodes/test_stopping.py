"""Stopping a node process: a Ctrl-C that lands in a finalizer prints nothing (other finalizer errors still show),
and only the first Ctrl-C interrupts."""

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


# The node's SIGINT handler under rclpy's own (which shuts ROS down, then calls it), as base.run installs them. The
# second Ctrl-C is the one ros2 launch sends after the terminal's: it lands during the clean-up.
TWICE = """
import os, signal, time
import rclpy
from optimus_voice.nodes import base

signal.signal(signal.SIGINT, base._interrupt_once())
rclpy.init()
try:
    os.kill(os.getpid(), signal.SIGINT)
    for _ in range(10_000_000):
        pass
    print("not interrupted")
except KeyboardInterrupt:
    deadline = time.monotonic() + 5  # rclpy shuts ROS down on a thread of its own
    while rclpy.ok() and time.monotonic() < deadline:
        time.sleep(0.01)
    print("interrupted, ros ok:", rclpy.ok())
os.kill(os.getpid(), signal.SIGINT)
total = sum(range(10_000_000))
print("cleaned up")
"""


def test_only_the_first_ctrl_c_interrupts_and_a_second_cannot_cut_the_clean_up_short():
    done = subprocess.run([sys.executable, "-c", TWICE], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["interrupted, ros ok: False", "cleaned up"], done.stdout + done.stderr
