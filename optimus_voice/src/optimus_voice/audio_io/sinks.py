"""Speaker output: a PortAudio device via sounddevice, or a WAV file when there is none (no rclpy)."""

from __future__ import annotations

import collections
import queue
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
from optimus_voice.audio_io.sample_clock import SampleClock
from optimus_voice.contract.stamps import NS_PER_S, now_ns


class SinkError(RuntimeError):
    """The output cannot be opened: the message says why."""


class WavSink:
    """Appends played audio to a 16-bit WAV file."""

    def __init__(self, path: str | Path, sample_rate: int) -> None:
        import soundfile as sf

        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.path = Path(path)
        self.sample_rate = sample_rate
        self._file = sf.SoundFile(str(path), mode="w", samplerate=sample_rate, channels=1, subtype="PCM_16")

    def write(self, samples: np.ndarray) -> None:
        self._file.write(samples)
        self._file.flush()

    def close(self) -> None:
        self._file.close()


class DeviceSink:
    """A PortAudio output device, fed from a callback that never runs dry: silence whenever nothing is queued.

    A sound card that runs dry restarts when its buffer refills (PulseAudio prebuffers), at a moment no stamp can
    know, and a writer thread late under load leaves gaps the stamps do not show. Fed by a callback, the device
    plays one continuous stream at its own clock's pace, and `on_played(samples, stamp_ns)` gets every block that
    held sound exactly as it was played (an underrun's silence included), stamped by its place in that stream:
    the echo canceller's reference. `write` blocks while more than `buffer_s` is queued, which paces the writer.
    """

    def __init__(self, device: str, sample_rate: int, buffer_s: float = 0.1,
                 on_played: Callable[[np.ndarray, int], None] | None = None,
                 clock: Callable[[], int] = now_ns) -> None:
        self.sample_rate = sample_rate
        self.on_played = on_played
        self.clock = clock
        self._max_queued = int(buffer_s * sample_rate)
        self._queue: collections.deque[np.ndarray] = collections.deque()
        self._queued = 0
        self._cv = threading.Condition()
        self._closed = False
        self._delivered = 0  # samples handed to the device since it started, silence included
        self._anchor = SampleClock(sample_rate, window_s=1.0)
        self._anchored = False
        self._offset_ns = 0
        self._reports: queue.SimpleQueue = queue.SimpleQueue()  # reported off the audio thread
        try:
            import sounddevice as sd

            dev = int(device) if device.isdigit() else (device or None)
            # PortAudio's "high" latency and block size: a Python callback that misses its turn under load is an
            # underrun, and through ALSA's PulseAudio plugin an underrun stalls the stream while it prebuffers.
            self._stream = sd.OutputStream(device=dev, samplerate=sample_rate, channels=1, dtype="float32",
                                           latency="high", callback=self._callback)
            self.latency_s = float(self._stream.latency)  # from a callback to the speaker, as PortAudio says
            self._stream.start()
        except Exception as exc:
            raise SinkError(f"cannot open audio output device {device or 'default'}: {exc}") from exc
        self._reporter = threading.Thread(target=self._report_loop, name="played", daemon=True)
        self._reporter.start()

    def _callback(self, outdata, frames, time_info, status) -> None:
        out = outdata[:, 0]
        filled = 0
        with self._cv:
            while filled < frames and self._queue:
                head = self._queue[0]
                k = min(len(head), frames - filled)
                out[filled:filled + k] = head[:k]
                if k == len(head):
                    self._queue.popleft()
                else:
                    self._queue[0] = head[k:]
                filled += k
            self._queued -= filled
            self._cv.notify_all()
        out[filled:] = 0.0
        if not self._anchored:
            # Where the stream sits on the clock: measured until it first plays sound (the callbacks of the last
            # second, the earliest of them), then fixed, and the sample count rules (as the microphone's does in
            # the echo canceller; the two counts share a sound card's clock, the stamps' clock drifts from it).
            # Not from the stream's start: PulseAudio asks for a burst of blocks, then stalls for seconds.
            self._offset_ns = self._anchor.offset(self.clock() + int(self.latency_s * NS_PER_S), self._delivered)
            self._anchored = filled > 0
        if filled and self.on_played is not None:
            self._reports.put((out.copy(), self._offset_ns + self._delivered * NS_PER_S // self.sample_rate))
        self._delivered += frames

    def _report_loop(self) -> None:
        while True:
            item = self._reports.get()
            if item is None:
                return
            self.on_played(*item)

    def write(self, samples: np.ndarray) -> None:
        """Queue sound; blocks while more than `buffer_s` is waiting."""
        with self._cv:
            while True:
                if not self._stream.active:
                    raise SinkError("the audio output device stopped (unplugged?)")
                if self._queued <= self._max_queued or self._closed:
                    break
                self._cv.wait(0.1)
            self._queue.append(np.asarray(samples, np.float32))
            self._queued += len(samples)

    def flush(self) -> None:
        """Drop what is queued (a stop): the speaker falls silent within a block."""
        with self._cv:
            self._queue.clear()
            self._queued = 0
            self._cv.notify_all()

    def close(self) -> None:
        with self._cv:
            self._closed = True
            self._cv.notify_all()
        self._stream.stop()
        self._stream.close()
        self._reports.put(None)
