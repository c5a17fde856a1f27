"""Speaker node: /audio/out -> a PortAudio device and/or a WAV file, reporting /audio/out/playback."""

from __future__ import annotations

import collections
import threading
import time

import numpy as np

from optimus_voice import topics
from optimus_voice.audio import AudioFormatError, decode_pcm
from optimus_voice.engines.audio_sink import DeviceSink, SinkError, WavSink
from optimus_voice.health import Level
from optimus_voice.nodes.base import Param, VoiceNode, run
from optimus_voice_msgs.msg import PlaybackStatus

RATES = (8000, 16000, 22050, 24000, 32000, 44100, 48000)


class AudioOutNode(VoiceNode):
    PARAMS = (
        Param("output", "auto", "'device', 'wav', or 'auto' (the device if one opens, else only the WAV/clock)."),
        Param("device", "", "Output device by name substring or index; empty: the system default."),
        Param("wav_path", "", "Also write everything played to this WAV file (empty: no file)."),
        Param("sample_rate", 22050, "Output sample rate; frames at other rates are resampled."),
        Param("status_period_ms", 100.0, "Interval of /audio/out/playback reports while playing."),
    )

    def __init__(self) -> None:
        super().__init__("audio_out")
        self._queue: collections.deque = collections.deque()
        self._cv = threading.Condition()
        self._thread: threading.Thread | None = None
        self._running = False
        self._sinks: list = []

    def configure_stage(self) -> None:
        rate = self.param("sample_rate")
        self._sinks = []
        if self.param("output") in ("device", "auto"):
            try:
                self._sinks.append(DeviceSink(self.param("device"), rate))
            except SinkError as exc:
                if self.param("output") == "device":
                    raise
                self.get_logger().warn(f"{exc}; playing by the clock only")
                self.health.set_value("device", f"none ({exc})")
        if self.param("wav_path"):
            self._sinks.append(WavSink(self.param("wav_path"), rate))
        self.status_pub = self.publisher(topics.PLAYBACK)
        self.subscribe(topics.AUDIO_OUT, self.on_audio)
        self.subscribe(topics.SPEECH_REQUEST, self.on_request)
        self._played: dict[int, int] = collections.defaultdict(int)
        self._latest_turn = 0
        self._running = True
        self._thread = threading.Thread(target=self._play_loop, name="playback", daemon=True)
        self._thread.start()

    def cleanup_stage(self) -> None:
        self._running = False
        with self._cv:
            self._cv.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=3.0)
            self._thread = None
        for sink in self._sinks:
            sink.close()
        self._sinks = []

    def on_audio(self, msg) -> None:
        if not self.turn_ok(msg.turn_id):
            return
        if msg.sample_rate not in RATES:
            self.health.problem("rejected_frames", f"unsupported sample rate {msg.sample_rate}")
            return
        try:
            samples = decode_pcm(msg.encoding, msg.sample_rate, msg.channels, bytes(msg.data),
                                 expected_rate=msg.sample_rate)
        except AudioFormatError as exc:
            self.health.problem("rejected_frames", f"rejected audio frame: {exc}")
            return
        if msg.sample_rate != self.param("sample_rate"):
            import soxr

            samples = soxr.resample(samples, msg.sample_rate, self.param("sample_rate")).astype(np.float32)
        with self._cv:
            if msg.turn_id > self._latest_turn:
                self._flush_locked(older_than=msg.turn_id)
                self._latest_turn = msg.turn_id
            elif msg.turn_id < self._latest_turn:
                self.health.count("stale_frames_dropped")
                return
            self._queue.append((msg.turn_id, samples))
            self._cv.notify()

    def on_request(self, msg) -> None:
        if msg.action == msg.ACTION_STOP:
            with self._cv:
                self._flush_locked(older_than=None)

    def _flush_locked(self, older_than: int | None) -> None:
        """Drop queued audio (of turns older than `older_than`, or all) and report FLUSHED for those turns."""
        dropped: dict[int, int] = collections.defaultdict(int)
        kept = collections.deque()
        for turn, samples in self._queue:
            if older_than is None or turn < older_than:
                dropped[turn] += len(samples)
            else:
                kept.append((turn, samples))
        self._queue = kept
        for turn in dropped:
            self._status(turn, "FLUSHED", 0)
            self.health.count("flushes")

    def _play_loop(self) -> None:
        rate = self.param("sample_rate")
        period = self.param("status_period_ms") / 1000
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
                device = next((s for s in self._sinks if isinstance(s, DeviceSink)), None)
                for sink in self._sinks:
                    sink.write(samples)
                if device is None:  # pace like a speaker would
                    clock = max(clock, time.monotonic()) + len(samples) / rate
                    time.sleep(max(0.0, clock - time.monotonic()))
            except Exception as exc:  # noqa: BLE001 - a failing device must not stop the node
                self.health.problem("output_errors", f"output failed: {exc}", Level.ERROR)
            self._played[turn] += len(samples)
            self.health.count("samples_played", len(samples))
            with self._cv:
                drained = not any(t == turn for t, _ in self._queue)
            if drained or time.monotonic() - last_status >= period:
                last_status = time.monotonic()
                self._status(turn, "DRAINED" if drained else "PLAYING",
                             sum(len(s) for t, s in list(self._queue) if t == turn))

    def _status(self, turn: int, state: str, queued: int) -> None:
        self.status_pub.publish(PlaybackStatus(
            header=self.header(), turn_id=turn, state=getattr(PlaybackStatus, state),
            samples_played=self._played.get(turn, 0), samples_queued=queued,
            sample_rate=self.param("sample_rate")))


def main(args: list[str] | None = None) -> None:
    run(AudioOutNode, args)
