"""The benchmark scripts of bench/, as their users run them (`python bench/NAME.py`)."""

import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[3] / "bench"


def test_no_bench_script_hides_a_standard_library_module():
    # `python bench/NAME.py` puts bench/ first on sys.path: a bench/array.py was imported for the standard `array`
    # inside rclpy's messages and broke every bench that made a ROS node (launch_check.py, 2026-12-07).
    scripts = {p.stem for p in BENCH.glob("*.py")}
    assert "launch_check" in scripts  # the folder was found
    assert not scripts & set(sys.stdlib_module_names), scripts & set(sys.stdlib_module_names)
