"""What every process of the stack sets up for itself by importing the package."""

import os
import subprocess
import sys

# numpy's own OpenBLAS, asked for its thread count after `optimus_voice` was imported first, as a node does.
PROBE = """
import ctypes, optimus_voice, numpy
path = next(line.split()[-1] for line in open("/proc/self/maps") if "openblas" in line.lower())
lib = ctypes.CDLL(path)
get = next(getattr(lib, n) for n in ("scipy_openblas_get_num_threads64_", "openblas_get_num_threads64_",
                                     "openblas_get_num_threads") if hasattr(lib, n))
print(get())
"""


def _openblas_threads(env: dict) -> int:
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return int(out.stdout)


def test_numpy_matrix_products_run_on_one_thread_unless_the_user_says_otherwise():
    # OpenBLAS threads spin ~100 ms after each product, taking a core from the next stage of the graph.
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")}
    assert _openblas_threads(env) == 1
    assert _openblas_threads({**env, "OPENBLAS_NUM_THREADS": "2"}) == 2
