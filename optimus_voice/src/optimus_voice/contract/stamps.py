"""Time stamps and turn ids: the contract that lets every stage drop stale work and measure latency.

No rclpy import: engines and the CLI use these with plain nanosecond integers.
"""

from __future__ import annotations

import threading
import time

NS_PER_S = 1_000_000_000


def now_ns() -> int:
    """Wall-clock time in nanoseconds (the clock ROS stamps use when use_sim_time is off)."""
    return time.time_ns()


def split_ns(ns: int) -> tuple[int, int]:
    """Nanoseconds -> (sec, nanosec) as in builtin_interfaces/Time."""
    return ns // NS_PER_S, ns % NS_PER_S


def from_time(t) -> int:
    """A builtin_interfaces/Time (a live message, or one read back from a bag) -> nanoseconds."""
    return t.sec * NS_PER_S + t.nanosec


def to_time(ns: int):
    """Nanoseconds -> builtin_interfaces/Time (imported here: engines use this module without ROS messages)."""
    from builtin_interfaces.msg import Time

    sec, nanosec = split_ns(ns)
    return Time(sec=sec, nanosec=nanosec)


def ms_between(start_ns: int, end_ns: int) -> float:
    """Milliseconds from one stamp to another."""
    return (end_ns - start_ns) / 1e6


class TurnCounter:
    """Allocates user-turn ids.

    An id is the wall-clock millisecond at which the turn opened, bumped to stay strictly increasing. Ids thus
    keep increasing across restarts of the node that allocates them, so "newer turn" is always a larger id and
    consumers can drop work for any id below the latest one they saw.
    """

    def __init__(self) -> None:
        self._last = 0
        self._lock = threading.Lock()

    def next(self, at_ns: int | None = None) -> int:
        """The id of a turn that opened at `at_ns` (now if None; a time in the future counts as now, or one corrupt
        stamp would push every later id into the future too)."""
        now = now_ns()
        ms = (now if at_ns is None else min(at_ns, now)) // 1_000_000
        with self._lock:
            self._last = max(self._last + 1, ms)
            return self._last

    @property
    def last(self) -> int:
        return self._last


# A turn id is the millisecond its turn opened, on the clock of the recognizer's computer: never in the future but
# for clock skew between the robot's computers. Allowing more would let one corrupt or forged id make every real
# turn look stale, and silence the robot, for that long.
FUTURE_TURN_MS = 2_000


def plausible_turn(turn_id: int, now: int | None = None) -> bool:
    """False for a turn id further in the future than clock skew explains: corrupt or forged."""
    return turn_id <= (now_ns() if now is None else now) // 1_000_000 + FUTURE_TURN_MS
