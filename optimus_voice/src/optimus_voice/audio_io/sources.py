"""Microphone sources: a PortAudio device, an audio file or a rosbag played at real-time pace.

Each source yields AudioChunk objects of fixed length at 16 kHz, mono or (for a microphone array) every channel,
with a running sample index (per stream) and the capture time of the chunk's first sample. No rclpy here.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from optimus_voice.audio_io.sample_clock import SampleClock
from optimus_voice.contract.audio import SAMPLE_RATE
from optimus_voice.contract.stamps import NS_PER_S, now_ns


class SourceError(RuntimeError):
    """A source cannot deliver audio (no device, unreadable file): the message says why."""


@dataclass
class AudioChunk:
    samples: np.ndarray       # float32 at SAMPLE_RATE: (n,) mono, or (n, channels) from a microphone array
    first_sample_index: int   # since the stream started; jumps mark dropped audio
    stamp_ns: int             # capture time of the first sample
    # Share of these samples in which the echo canceller heard a voice over the robot's own (double talk); 0 where
    # nothing was measured (no canceller, the robot silent, the canceller not converged).
    double_talk: float = 0.0
    # The same audio before the echo canceller's residual gate, for the recognizer's words (None: `samples`). The
    # gate keeps the VAD from opening turns on the echo's leftover; the words are read from audio it left whole.
    words: np.ndarray | None = None


def load_audio(path: str | Path, rate: int = SAMPLE_RATE, channels: int | None = None) -> np.ndarray:
    """Read a WAV/FLAC/OGG file as float32 at `rate` (resampled with soxr when needed): mono (its channels
    averaged), or with `channels` every channel as (n, channels), and then the file must have that many."""
    import soundfile as sf

    try:
        data, file_rate = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:  # soundfile raises several types; one clear error for all
        raise SourceError(f"cannot read audio file {path}: {exc}") from exc
    if channels is not None and data.shape[1] != channels:
        raise SourceError(f"audio file {path} has {data.shape[1]} channel(s); the microphone array has {channels}")
    out = data if channels is not None else data.mean(axis=1)
    if file_rate != rate:
        import soxr

        out = soxr.resample(out, file_rate, rate).astype(np.float32)
    return np.ascontiguousarray(out, dtype=np.float32)


class FileSource:
    """An audio file played as if it were a microphone: real-time pace, optional loop and leading silence."""

    def __init__(self, path: str | Path, frame_ms: float = 20.0, loop: bool = False, realtime: bool = True,
                 lead_silence_s: float = 0.0, gap_s: float = 1.0, clock: Callable[[], int] = now_ns,
                 channels: int = 1) -> None:
        self.path = Path(path)
        self.clock = clock  # stamps (the node's clock); the pace is the wall clock's
        self.samples = load_audio(self.path, channels=channels if channels > 1 else None)
        shape = (-1,) if channels == 1 else (-1, channels)
        if lead_silence_s > 0:
            lead = np.zeros(int(lead_silence_s * SAMPLE_RATE) * channels, np.float32).reshape(shape)
            self.samples = np.concatenate([lead, self.samples])
        self.frame = int(SAMPLE_RATE * frame_ms / 1000)
        self.loop = loop
        self.realtime = realtime
        self.gap = np.zeros(int(gap_s * SAMPLE_RATE) * channels, np.float32).reshape(shape)
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    def chunks(self) -> Iterator[AudioChunk]:
        start_ns, stamp_ns = now_ns(), self.clock()
        index = 0
        while not self._stop.is_set():
            # Silence after the file (and between loops) lets the last turn end, as a quiet room would.
            stream = np.concatenate([self.samples, self.gap])
            for offset in range(0, len(stream), self.frame):
                if self._stop.is_set():
                    return
                chunk = stream[offset:offset + self.frame]
                due_ns = start_ns + index * NS_PER_S // SAMPLE_RATE
                if self.realtime:
                    # A chunk is delivered once its last sample would have been captured.
                    wait = (due_ns + len(chunk) * NS_PER_S // SAMPLE_RATE - now_ns()) / NS_PER_S
                    if wait > 0:
                        self._stop.wait(wait)
                yield AudioChunk(chunk, index, stamp_ns + index * NS_PER_S // SAMPLE_RATE)
                index += len(chunk)
            if not self.loop:
                return


class DeviceSource:
    """A PortAudio input device via sounddevice, resampled to 16 kHz: its first channel, or `channels` of them.

    Overflows are counted; chunks lost to a full queue leave a gap in the sample index.
    """

    def __init__(self, device: str | int | None = None, frame_ms: float = 20.0, queue_frames: int = 50,
                 clock: Callable[[], int] = now_ns, stall_s: float = 2.0, channels: int = 1) -> None:
        self.clock = clock
        self.channels = channels
        self.stall_s = stall_s
        try:
            import sounddevice as sd
        except OSError as exc:  # libportaudio2 missing
            raise SourceError(f"PortAudio is not available: {exc}") from exc
        self._sd = sd
        self.device = self._find(device)
        info = sd.query_devices(self.device, "input")
        if info["max_input_channels"] < channels:
            raise SourceError(f"audio input device {info['name']!r} has {info['max_input_channels']} channel(s); "
                              f"the microphone array (mic_positions) has {channels}")
        self.native_rate = int(info["default_samplerate"])
        self.frame = int(SAMPLE_RATE * frame_ms / 1000)
        self._native_frame = int(self.native_rate * frame_ms / 1000)
        self._queue: queue.Queue[tuple[np.ndarray, int]] = queue.Queue(maxsize=queue_frames)
        self.overflows = 0
        self.dropped_samples = 0
        self._index = 0
        self._stop = threading.Event()
        self._resampler = None
        if self.native_rate != SAMPLE_RATE:
            import soxr

            self._resampler = soxr.ResampleStream(self.native_rate, SAMPLE_RATE, channels, dtype="float32")

    def _find(self, device: str | int | None) -> int | None:
        sd = self._sd
        try:
            devices = sd.query_devices()
        except Exception as exc:
            raise SourceError(f"cannot list audio devices: {exc}") from exc
        inputs = [i for i, d in enumerate(devices) if d["max_input_channels"] > 0]
        if not inputs:
            raise SourceError("no audio input device found")
        if device in (None, ""):
            return None
        if isinstance(device, int) or str(device).isdigit():
            idx = int(device)
            if idx not in inputs:
                raise SourceError(f"audio input device {idx} does not exist (inputs: {inputs})")
            return idx
        for i in inputs:
            if str(device).lower() in devices[i]["name"].lower():
                return i
        names = ", ".join(devices[i]["name"] for i in inputs)
        raise SourceError(f"no audio input device matches {device!r} (inputs: {names})")

    def stop(self) -> None:
        self._stop.set()

    def chunks(self) -> Iterator[AudioChunk]:
        sample_clock = SampleClock(SAMPLE_RATE)
        received = 0  # native samples the callback got, lost ones included

        def callback(indata, frames, time_info, status) -> None:
            nonlocal received
            if status.input_overflow:
                self.overflows += 1
            arrival = self.clock() - frames * NS_PER_S // self.native_rate
            offset = sample_clock.offset(arrival, received * SAMPLE_RATE // self.native_rate)
            received += frames
            try:
                self._queue.put_nowait((indata[:, 0].copy() if self.channels == 1 else indata.copy(), offset))
            except queue.Full:
                self.dropped_samples += frames

        try:
            stream = self._sd.InputStream(device=self.device, channels=self.channels, samplerate=self.native_rate,
                                          blocksize=self._native_frame, dtype="float32", callback=callback)
        except Exception as exc:
            raise SourceError(f"cannot open audio input device {self.device}: {exc}") from exc
        with stream:
            last = time.monotonic()
            while not self._stop.is_set():
                try:
                    native, offset = self._queue.get(timeout=0.2)
                except queue.Empty as exc:
                    # A live device delivers silence too: nothing at all means it is gone (unplugged, its server
                    # died), even where PortAudio still calls the stream active.
                    if not stream.active or time.monotonic() - last > self.stall_s:
                        raise SourceError(f"audio input device {self.device if self.device is not None else 'default'}"
                                          f" delivered nothing for {time.monotonic() - last:.1f} s (unplugged?)") \
                            from exc
                    continue
                last = time.monotonic()
                if self.dropped_samples:
                    self._index += int(self.dropped_samples * SAMPLE_RATE / self.native_rate)
                    self.dropped_samples = 0
                samples = self._resampler.resample_chunk(native) if self._resampler else native
                if len(samples):
                    stamp = offset + self._index * NS_PER_S // SAMPLE_RATE
                    yield AudioChunk(samples.astype(np.float32), self._index, stamp)
                    self._index += len(samples)


class BagSource:
    """The `/audio/in` frames of a rosbag (`/audio/in/array` for a microphone array), replayed with their recorded
    timing.

    Sample indices are the recorded ones (a gap in the recording stays a gap); stamps are the replay time, so
    latencies measured downstream are those of the live graph. With `loop`, later passes continue the index.
    """

    def __init__(self, path: str | Path, topic: str | None = None, loop: bool = False, realtime: bool = True,
                 rate: float = 1.0, clock: Callable[[], int] = now_ns, channels: int = 1) -> None:
        from optimus_voice.contract import topics

        self.clock = clock
        self.channels = channels
        topic = topic or (topics.AUDIO_IN if channels == 1 else topics.AUDIO_ARRAY).name
        from optimus_voice.audio_io import bags

        self.path = Path(path)
        if not self.path.exists():
            raise SourceError(f"bag {self.path} does not exist")
        try:
            next(bags.read(self.path, [topic]))
        except StopIteration:
            raise SourceError(f"bag {self.path} has no messages on {topic}") from None
        except bags.BagError as exc:
            raise SourceError(str(exc)) from exc
        self.topic = topic
        self.loop = loop
        self.realtime = realtime
        self.rate = rate
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    def chunks(self) -> Iterator[AudioChunk]:
        from optimus_voice.audio_io import bags
        from optimus_voice.contract.audio import AudioFormatError

        offset = 0
        start_ns = now_ns()
        while not self._stop.is_set():
            first_record = None
            end = offset
            try:
                for samples, index, _, record_ns in bags.audio_chunks(self.path, self.topic, self.channels):
                    first_record = record_ns if first_record is None else first_record
                    due_ns = start_ns + int((record_ns - first_record) / self.rate)
                    if self.realtime and (wait := (due_ns - now_ns()) / NS_PER_S) > 0 and self._stop.wait(wait):
                        return
                    yield AudioChunk(samples, offset + index, self.clock() - len(samples) * NS_PER_S // SAMPLE_RATE)
                    end = offset + index + len(samples)
            except (bags.BagError, AudioFormatError) as exc:
                raise SourceError(f"bad audio in bag {self.path}: {exc}") from exc
            if not self.loop:
                return
            offset, start_ns = end, now_ns()


def open_source(kind: str, *, device: str = "", file_path: str = "", loop: bool = False, frame_ms: float = 20.0,
                clock: Callable[[], int] = now_ns, channels: int = 1) -> FileSource | DeviceSource | BagSource:
    """The source named by the capture node's `source` parameter (`file_path` is the bag folder for 'bag'); its
    chunks are stamped with `clock`, and have `channels` channels (more than 1: (n, channels) samples)."""
    if kind == "device":
        return DeviceSource(device or None, frame_ms=frame_ms, clock=clock, channels=channels)
    if kind in ("file", "bag"):
        if not file_path:
            raise SourceError(f"source is {kind!r} but no file_path is set")
        if kind == "bag":
            return BagSource(file_path, loop=loop, clock=clock, channels=channels)
        return FileSource(file_path, frame_ms=frame_ms, loop=loop, clock=clock, channels=channels)
    raise SourceError(f"unknown source {kind!r} (expected 'device', 'file' or 'bag')")
