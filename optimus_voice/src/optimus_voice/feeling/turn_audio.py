"""The last seconds of the user's speech, addressed by stream sample index (no rclpy).

The ASR hands out each turn's audio on its own topic, and the voice-activity events that name its samples on
another: a reader of both must be able to wait for the audio an event names.
"""

from __future__ import annotations

import threading
from collections import deque

import numpy as np
from optimus_voice.contract.audio import SAMPLE_RATE


class TurnAudioBuffer:
    """The last `seconds` of the user's speech, as (first sample index, samples) pieces."""

    def __init__(self, seconds: float) -> None:
        self.frames: deque[tuple[int, np.ndarray]] = deque()
        self.limit = int(seconds * SAMPLE_RATE)
        self.lock = threading.Condition()

    def add(self, index: int, samples: np.ndarray) -> None:
        with self.lock:
            self.frames.append((index, samples))
            while self.frames and index - self.frames[0][0] > self.limit:
                self.frames.popleft()
            self.lock.notify_all()

    def end(self) -> int:
        """Stream index just after the latest audio (0 when empty)."""
        with self.lock:
            return self.frames[-1][0] + len(self.frames[-1][1]) if self.frames else 0

    def wait_for(self, start: int, end: int, timeout_s: float) -> bool:
        """Wait until the audio of a turn that has begun to arrive (any after `start`) reaches `end`: the ASR
        publishes it just before the event naming `end`, but on another topic."""
        with self.lock:
            return self.lock.wait_for(lambda: not start < self.end() < end, timeout_s)

    def get(self, start: int, end: int | None) -> np.ndarray:
        """The samples from `start` up to `end` (None: all there is)."""
        with self.lock:
            parts = [s[max(0, start - i):(None if end is None else max(0, end - i))] for i, s in self.frames
                     if i + len(s) > start and (end is None or i < end)]
        return np.concatenate(parts) if parts else np.zeros(0, np.float32)
