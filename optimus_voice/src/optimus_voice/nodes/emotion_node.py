"""Emotion node: the user's voice (/audio/user_speech, with /voice_activity) and words (/transcript) -> /emotion.

Per turn: partial estimates while the user speaks, one final estimate fusing voice and words, and the user's mood
across turns. The acoustic estimate is computed in a worker thread as soon as the ASR's first-pause partial
arrives, so it is usually ready when the final transcript comes; the final is then one text lookup away. The
voice comes from the ASR, cut to the user's turns: the node costs nothing while nobody speaks.
"""

from __future__ import annotations

import queue
import threading
from collections import deque

import numpy as np

from optimus_voice import topics
from optimus_voice.audio import SAMPLE_RATE, AudioFormatError, decode_pcm
from optimus_voice.engines.acoustic_emotion import AcousticEmotion, fuse
from optimus_voice.engines.emotion import LABELS, EmotionEstimate, Mood, TextEmotion
from optimus_voice.engines.models import ModelMissingError
from optimus_voice.health import Level
from optimus_voice.nodes.base import Param, VoiceNode, run, stop_worker
from optimus_voice_msgs.msg import Emotion

# A voice estimate made on all but the last 100 ms of a turn is reused for the turn's final estimate.
REUSE_WITHIN = SAMPLE_RATE // 10
PARTIAL_EVERY = SAMPLE_RATE
AUDIO_WAIT_S = 0.2


class AudioRing:
    """The last `seconds` of the user's speech, addressed by stream sample index."""

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
        with self.lock:
            parts = [s[max(0, start - i):(None if end is None else max(0, end - i))] for i, s in self.frames
                     if i + len(s) > start and (end is None or i < end)]
        return np.concatenate(parts) if parts else np.zeros(0, np.float32)


class EmotionNode(VoiceNode):
    PARAMS = (
        Param("mood_alpha", 0.3, "Smoothing of the user's mood across final turns (0..1, higher follows faster)."),
        Param("partials", True, "Publish partial estimates from partial transcripts."),
        Param("acoustic", True, "Use the voice (our speech-emotion model) as well as the words."),
        Param("model_path", "", "Emotion model (.onnx); empty: models/emotion/emotion_mlp.onnx of the package."),
        Param("text_weight", 0.8, "Weight of the words against the voice, scaled by how emotional the words are."),
        Param("buffer_s", 30.0, "Seconds of the user's speech kept for the acoustic model."),
    )

    def __init__(self) -> None:
        super().__init__("emotion")
        self.text_model: TextEmotion | None = None
        self._jobs: queue.Queue = queue.Queue()
        self._worker: threading.Thread | None = None

    def configure_stage(self) -> None:
        self.text_model = TextEmotion()
        self.acoustic_model = None
        if self.param("acoustic"):
            try:
                self.acoustic_model = AcousticEmotion(self.param("model_path"))
            except (ModelMissingError, OSError) as exc:
                self.get_logger().error(f"acoustic emotion model unavailable, using the words only: {exc}")
                self.health.problem("model_errors", f"acoustic model unavailable: {exc}", Level.WARN)
        self.health.set_value("modality", "fused" if self.acoustic_model else "text")
        self.mood = Mood(self.param("mood_alpha"))
        self.ring = AudioRing(self.param("buffer_s"))
        self._turns: dict[int, dict] = {}   # turn -> {start, end, acoustic: (end index, estimate)}
        self._lock = threading.Lock()
        self.pub = self.publisher(topics.EMOTION)
        self.subscribe(topics.USER_SPEECH, self.on_audio)
        self.subscribe(topics.VOICE_ACTIVITY, self.on_voice_activity)
        self.subscribe(topics.TRANSCRIPT, self.on_transcript)
        self._worker = threading.Thread(target=self._work, name="emotion", daemon=True)
        self._worker.start()

    def cleanup_stage(self) -> None:
        stop_worker(self._jobs, self._worker)
        self._worker = None
        self.text_model = None

    # -- inputs ----------------------------------------------------------------------------------------------
    def on_audio(self, msg) -> None:
        if self.acoustic_model is None:
            return
        try:
            samples = decode_pcm(msg.encoding, msg.sample_rate, msg.channels, bytes(msg.data))
        except AudioFormatError as exc:
            self.health.problem("rejected_frames", f"rejected audio frame: {exc}")
            return
        self.ring.add(msg.first_sample_index, samples)

    def on_voice_activity(self, msg) -> None:
        with self._lock:
            turn = self._turns.setdefault(msg.turn_id, {"acoustic": None})
            turn["start"] = msg.start_sample_index
            if msg.event == msg.SPEECH_END:
                turn["end"] = msg.end_sample_index
            # At a pause (the recognizer starts its speculative final now) and at the end, estimate the voice at
            # once, so the final estimate is ready with the final transcript.
            if self.acoustic_model is not None and msg.event in (msg.SPEECH_ONGOING, msg.SPEECH_END):
                self._jobs.put(("voice", msg.turn_id, msg.end_sample_index))
            for old in [t for t in self._turns if t < msg.turn_id - 60_000]:  # forget turns over a minute old
                del self._turns[old]

    def on_transcript(self, msg) -> None:
        if not msg.is_final and not self.param("partials"):
            return
        if self.acoustic_model is not None and msg.turn_id in self._turns:
            self._jobs.put(("final" if msg.is_final else "partial", msg.turn_id, msg.text))
        else:
            self._publish(msg.turn_id, msg.is_final, None, self.text_model.estimate(msg.text))

    # -- work ------------------------------------------------------------------------------------------------
    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            kind, turn_id, arg = job  # arg: the transcript, or for "voice" the sample index where speech stopped
            try:
                if kind == "voice":
                    self._acoustic(turn_id, arg)
                else:
                    self._estimate(kind == "final", turn_id, arg)
            except Exception as exc:  # noqa: BLE001 - one bad turn must not stop the node
                self.get_logger().error(f"emotion estimate failed: {exc}")
                self.health.problem("engine_errors", f"emotion estimate failed: {exc}", Level.ERROR)

    def _acoustic(self, turn_id: int, until: int | None = None) -> EmotionEstimate | None:
        """The voice's estimate for the turn so far (or `until` a sample index), reusing one made on (nearly)
        the same audio."""
        with self._lock:
            turn = dict(self._turns.get(turn_id, {}))
        if "start" not in turn:
            return None
        end, cached = turn.get("end") or until, turn.get("acoustic")
        if cached is not None and end is not None and cached[0] >= end - REUSE_WITHIN:
            return cached[1]
        if end is not None and not self.ring.wait_for(turn["start"], end, AUDIO_WAIT_S):
            self.health.problem("late_audio", f"turn {turn_id}: its audio had not arrived with its end")
        audio = self.ring.get(turn["start"], end)
        if len(audio) <= SAMPLE_RATE // 4:
            return cached[1] if cached else None
        if end is None and cached is not None and turn["start"] + len(audio) - cached[0] < PARTIAL_EVERY:
            return cached[1]  # while the user speaks, a fresh look at the voice once a second is enough
        acoustic = self.acoustic_model.estimate(audio)
        with self._lock:
            if turn_id in self._turns:
                self._turns[turn_id]["acoustic"] = (turn["start"] + len(audio), acoustic)
        self.health.timing("acoustic_inference", acoustic.inference_ms)
        return acoustic

    def _estimate(self, final: bool, turn_id: int, text: str) -> None:
        if not final and self._jobs.qsize() > 0:
            return  # a newer request is waiting: skip this partial
        self._publish(turn_id, final, self._acoustic(turn_id), self.text_model.estimate(text) if text.strip() else None)

    def _publish(self, turn_id: int, final: bool, acoustic: EmotionEstimate | None,
                 text: EmotionEstimate | None) -> None:
        if acoustic is None and text is None:
            text = self.text_model.estimate("")
        weight = self.param("text_weight") * (self.text_model.evidence(text) if text else 0.0)
        est = fuse(acoustic, text, weight)
        modality = (Emotion.MODALITY_FUSED if acoustic and text else
                    Emotion.MODALITY_ACOUSTIC if acoustic else Emotion.MODALITY_TEXT)
        if final:
            mood_v, mood_a = self.mood.update(est.valence, est.arousal)
        else:
            mood_v, mood_a = self.mood.valence, self.mood.arousal
        self.pub.publish(Emotion(
            header=self.header(), turn_id=turn_id, label=est.label, labels=list(LABELS),
            scores=[est.scores[k] for k in LABELS], valence=est.valence, arousal=est.arousal, modality=modality,
            is_final=final, mood_valence=mood_v, mood_arousal=mood_a, inference_ms=est.inference_ms))
        self.health.count("finals" if final else "partials")


def main(args: list[str] | None = None) -> None:
    run(EmotionNode, args)
