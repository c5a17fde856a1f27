"""Steady stamps for a sound card's audio: its sample count, anchored to the clock by the earliest arrivals.

A device callback runs some time after its samples were captured, and how long after jitters by a buffer period
(0-20 ms through PulseAudio, in a sawtooth, as the server hands over several periods at once). Stamps taken at the
callback carry that jitter into everything aligned by stamps, the echo canceller's reference first. Audio is
never early, so the least delayed arrival of the last few seconds is the best anchor; the window lets the anchor
follow a sound card whose sample clock drifts from the system's.
"""

from __future__ import annotations

from collections import deque

from optimus_voice.contract.stamps import NS_PER_S


class SampleClock:
    def __init__(self, rate: int, window_s: float = 2.0) -> None:
        self.rate = rate
        self.window_ns = int(window_s * NS_PER_S)
        self._offsets: deque[tuple[int, int]] = deque()  # (arrival, arrival - sample time), the minimum first

    def offset(self, arrival_ns: int, index: int) -> int:
        """Sample `index` (counted from the stream's start) arrived at `arrival_ns` (the callback's time less the
        buffer's duration): the stamp of any sample i is now `i * 1e9 / rate + offset`."""
        offset = arrival_ns - index * NS_PER_S // self.rate
        # A monotonic deque: its head is the minimum offset over the window.
        while self._offsets and self._offsets[-1][1] >= offset:
            self._offsets.pop()
        self._offsets.append((arrival_ns, offset))
        while self._offsets[0][0] < arrival_ns - self.window_ns:
            self._offsets.popleft()
        return self._offsets[0][1]
