"""Health of one stage: status, counters and timings, reported on /diagnostics by its node.

Plain Python (no rclpy) so engines, the CLI and benchmarks can share it.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from dataclasses import dataclass
from enum import IntEnum

import numpy as np


class Level(IntEnum):
    """Same values as diagnostic_msgs/DiagnosticStatus levels."""

    OK = 0
    WARN = 1
    ERROR = 2
    STALE = 3


PROBLEMS_KEY = "problem_counters"  # /diagnostics value naming the counters that count problems


@dataclass
class Snapshot:
    level: Level
    message: str
    values: dict[str, str]


class Health:
    """Thread-safe health record of one stage.

    `set_status` records a lasting condition (no device, model missing). `problem` records an event (a malformed
    frame): it is counted and raises the level for `event_window_s` seconds, so one bad message shows on
    /diagnostics without marking the node broken for ever.
    """

    def __init__(self, event_window_s: float = 5.0, timing_window: int = 200) -> None:
        self._lock = threading.Lock()
        self._status = (Level.OK, "ok")
        self._event: tuple[Level, str, float] | None = None
        self._window = event_window_s
        self.counters: Counter[str] = Counter()
        self.problems: set[str] = set()  # the counters that count problems (raised through `problem`)
        self._timings: dict[str, deque[float]] = {}
        self._timing_window = timing_window
        self.values: dict[str, str] = {}

    def set_status(self, level: Level, message: str) -> None:
        with self._lock:
            self._status = (level, message)

    def problem(self, counter: str, message: str, level: Level = Level.WARN) -> None:
        with self._lock:
            self.counters[counter] += 1
            self.problems.add(counter)
            self._event = (level, message, time.monotonic())

    def count(self, counter: str, n: int = 1) -> None:
        with self._lock:
            self.counters[counter] += n

    def timing(self, name: str, ms: float) -> None:
        with self._lock:
            self._timings.setdefault(name, deque(maxlen=self._timing_window)).append(ms)

    def set_value(self, key: str, value: object) -> None:
        with self._lock:
            self.values[key] = str(value)

    def snapshot(self) -> Snapshot:
        with self._lock:
            level, message = self._status
            if self._event and time.monotonic() - self._event[2] < self._window and self._event[0] >= level:
                level, message = self._event[0], self._event[1]
            values = dict(self.values)
            values.update({k: str(v) for k, v in sorted(self.counters.items())})
            if self.problems:
                values[PROBLEMS_KEY] = ",".join(sorted(self.problems))
            for name, samples in sorted(self._timings.items()):
                if samples:
                    arr = np.fromiter(samples, dtype=float)
                    values[f"{name}_p50_ms"] = f"{np.percentile(arr, 50):.1f}"
                    values[f"{name}_p95_ms"] = f"{np.percentile(arr, 95):.1f}"
            return Snapshot(level, message, values)
