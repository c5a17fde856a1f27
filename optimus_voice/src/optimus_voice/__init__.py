"""optimus_voice: the speech-interaction stack of a humanoid robot."""

import os
import sys

# Installed into a Python venv (the ROS 2 PyPI wheels) nothing sources a setup script: the venv is then the
# ament prefix, so package share directories resolve as they would in a sourced workspace.
if not os.environ.get("AMENT_PREFIX_PATH") and os.path.isdir(os.path.join(sys.prefix, "share", "ament_index")):
    os.environ["AMENT_PREFIX_PATH"] = sys.prefix

# numpy's OpenBLAS keeps its worker threads spinning for about 100 ms after every matrix product. Each stage's
# matrices are small, so a second thread gains nothing, and the spin took a core from the next stage at every turn
# (after a voice vector or an intent embedding: replies 50-120 ms later, BENCHMARKS.md). Set before numpy loads
# OpenBLAS (every node imports this package first); a value already in the environment wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
