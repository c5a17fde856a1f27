"""The speaker's player (no rclpy): the robot's speech queued per turn, played in order into the sinks, paced like
a speaker when no device paces it, flushed on a stop or a newer turn, and reported turn by turn."""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from optimus_voice.audio_io.sinks import DeviceSink
from optimus_voice.contract.health import Health, Level
from optimus_voice.contract.stamps import NS_PER_S, now_ns

PLAYING, DRAINED, FLUSHED = "PLAYING", "DRAINED", "FLUSHED"
UNDERRUN_NS = 30_000_000  # a piece starting this much after the previous one ended follows a real silence


@dataclass
class PlayStatus:
    turn_id: int
    state: str               # PLAYING, DRAINED or FLUSHED
    samples_played: int      # of this turn so far
    samples_queued: int      # of this turn received and not yet played


class Player:
    """Plays queued audio on a thread of its own into `sinks`; `on_status` gets each report (from that thread, or
    from the caller's for FLUSHED)."""

    def __init__(self, sinks: list, sample_rate: int, on_status: Callable[[PlayStatus], None],
                 status_period_s: float = 0.1, health: Health | None = None,
                 on_played: Callable[[int, np.ndarray, int], None] | None = None,
                 clock: Callable[[], int] = now_ns) -> None:
        self.sinks = sinks
        self.sample_rate = sample_rate
        self.on_status = on_status
        self.status_period_s = status_period_s
        self.health = health or Health()
        # Gets (turn id, samples, when their first sample leaves the speaker) for each piece played: the echo
        # canceller's reference. `clock` stamps them (the node's clock).
        self.on_played = on_played
        self.clock = clock
        self._played_until_ns = 0
        self.played: dict[int, int] = collections.defaultdict(int)
        self.latest_turn = 0
        self._queue: collections.deque[tuple[int, np.ndarray]] = collections.deque()
        self._cv = threading.Condition()
        self._running = True
        self._device = next((s for s in sinks if isinstance(s, DeviceSink)), None)
        if self._device is not None and on_played is not None:
            # A sound card reports what it played itself, as it played it.
            self._device.on_played = lambda samples, stamp: self._send_played(self.latest_turn, samples, stamp)
        self._thread = threading.Thread(target=self._play_loop, name="playback", daemon=True)
        self._thread.start()

    def add(self, turn_id: int, samples: np.ndarray) -> bool:
        """Queue audio of turn_id; a newer turn flushes what older turns still had queued. False (dropped) for
        audio of a turn older than the latest."""
        with self._cv:
            if turn_id > self.latest_turn:
                self._flush_locked(older_than=turn_id)
                self.latest_turn = turn_id
            elif turn_id < self.latest_turn:
                return False
            self._queue.append((turn_id, samples))
            self._cv.notify()
        return True

    def flush(self) -> None:
        """Drop everything queued (a stop request), in the sound card's buffer too."""
        with self._cv:
            self._flush_locked(older_than=None)
        if self._device is not None:
            self._device.flush()

    def _flush_locked(self, older_than: int | None) -> None:
        """Drop queued audio (of turns older than `older_than`, or all) and report FLUSHED for those turns."""
        dropped: set[int] = set()
        kept: collections.deque[tuple[int, np.ndarray]] = collections.deque()
        for turn, samples in self._queue:
            if older_than is None or turn < older_than:
                dropped.add(turn)
            else:
                kept.append((turn, samples))
        self._queue = kept
        for turn in sorted(dropped):
            self.on_status(PlayStatus(turn, FLUSHED, self.played.get(turn, 0), 0))
            self.health.count("flushes")

    def _play_loop(self) -> None:
        last_status = 0.0
        clock = time.monotonic()
        while self._running:
            with self._cv:
                while self._running and not self._queue:
                    self._cv.wait(0.2)
                if not self._running:
                    return
                turn, samples = self._queue.popleft()
            try:
                if self._device is None:
                    self._report_played(turn, samples)
                for sink in self.sinks:
                    sink.write(samples)
                if self._device is None:  # pace like a speaker would
                    clock = max(clock, time.monotonic()) + len(samples) / self.sample_rate
                    time.sleep(max(0.0, clock - time.monotonic()))
            except Exception as exc:  # noqa: BLE001 - a failing device must not stop the player
                self.health.problem("output_errors", f"output failed: {exc}", Level.ERROR)
            self.played[turn] += len(samples)
            self.health.count("samples_played", len(samples))
            with self._cv:
                queued = sum(len(s) for t, s in self._queue if t == turn)
                drained = not any(t == turn for t, _ in self._queue)
            if drained or time.monotonic() - last_status >= self.status_period_s:
                last_status = time.monotonic()
                self.on_status(PlayStatus(turn, DRAINED if drained else PLAYING, self.played[turn], queued))

    def _report_played(self, turn: int, samples: np.ndarray) -> None:
        """Without a sound card: stamp a piece with when it plays, right after what is still playing, or now."""
        if self.on_played is None:
            return
        start = self.clock()
        if start < self._played_until_ns + UNDERRUN_NS:
            start = self._played_until_ns  # back to back: timing jitter of this thread is not a gap in the sound
        self._played_until_ns = start + len(samples) * NS_PER_S // self.sample_rate
        self._send_played(turn, samples, start)

    def _send_played(self, turn: int, samples: np.ndarray, stamp_ns: int) -> None:
        try:
            self.on_played(turn, samples, stamp_ns)
        except Exception as exc:  # noqa: BLE001 - a failing report must stop neither the speaker nor its reports
            self.health.problem("played_report_errors", f"cannot report played audio: {exc}")

    def close(self, timeout_s: float = 3.0) -> None:
        """Stop playing (what is queued is dropped) and close the sinks."""
        self._running = False
        with self._cv:
            self._cv.notify_all()
        self._thread.join(timeout=timeout_s)
        for sink in self.sinks:
            sink.close()
        self.sinks = []
