"""What a benchmark ran on: the CPU, its cores, Python, the commit of the source tree (when it is a checkout), and
the thread settings of the environment that change its numbers."""

from __future__ import annotations

import contextlib
import os
import platform
import subprocess
from pathlib import Path


def machine() -> dict:
    cpu = platform.processor() or ""
    with contextlib.suppress(OSError, StopIteration):
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    commit = ""
    with contextlib.suppress(OSError):
        here = Path(__file__).resolve().parent
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=here, capture_output=True,
                                text=True).stdout.strip()
        # A run on code not yet committed says so: the commit alone would name code it did not run.
        if commit and subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                                     capture_output=True, text=True).stdout.strip():
            commit += "+uncommitted"
    threads = {k: os.environ[k] for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS") if k in os.environ}
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(), "commit": commit,
            "threads": threads}
