"""The user's emotion turn by turn (no rclpy): the voice of each turn, cut out of the turn audio by the voice
activity, its words, their fusion, and the mood across turns.

The voice is estimated at the first pause (when the recognizer starts its speculative final) and again at the end,
so the final estimate is one text lookup away when the final transcript comes. An estimate made on all but the
last REUSE_WITHIN samples of a turn is reused, and while the user speaks the voice is looked at again at most once
every PARTIAL_EVERY samples.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from optimus_voice.contract.audio import SAMPLE_RATE
from optimus_voice.contract.health import Health
from optimus_voice.feeling.acoustic import AcousticEmotion
from optimus_voice.feeling.emotions import EmotionEstimate, Mood
from optimus_voice.feeling.fusion import fuse
from optimus_voice.feeling.text_emotion import TextEmotion
from optimus_voice.feeling.turn_audio import TurnAudioBuffer

REUSE_WITHIN = SAMPLE_RATE // 10
PARTIAL_EVERY = SAMPLE_RATE
AUDIO_WAIT_S = 0.2
FORGET_MS = 60_000   # turns (ids are milliseconds) older than this are forgotten


@dataclass
class TurnEstimate:
    turn_id: int
    final: bool
    estimate: EmotionEstimate
    modality: str          # "acoustic", "text" or "fused"
    mood_valence: float
    mood_arousal: float
    voice_id: str = ""  # who spoke: the mood above is this voice's


@dataclass
class _Turn:
    start: int | None = None
    end: int | None = None
    voice: tuple[int, EmotionEstimate] | None = None   # (end sample index it was made up to, estimate)


class TurnEmotions:
    """Per-turn emotion from the voice and the words. `voice` runs the acoustic model (call it off the executor);
    everything else is cheap."""

    def __init__(self, text_model: TextEmotion, acoustic_model: AcousticEmotion | None = None, *,
                 mood_alpha: float = 0.3, text_weight: float = 0.8, buffer_s: float = 30.0,
                 health: Health | None = None) -> None:
        self.text_model = text_model
        self.acoustic_model = acoustic_model
        self.text_weight = text_weight
        self.mood_alpha = mood_alpha
        self.moods: dict[str, Mood] = {}  # per voice id ("": turns of no known voice)
        self.audio = TurnAudioBuffer(buffer_s)
        self.health = health or Health()
        self._turns: dict[int, _Turn] = {}
        self._lock = threading.Lock()

    @property
    def hears_voice(self) -> bool:
        return self.acoustic_model is not None

    def add_audio(self, index: int, samples) -> None:
        if self.hears_voice:
            self.audio.add(index, samples)

    def voice_activity(self, turn_id: int, start_index: int, end_index: int | None, ended: bool) -> bool:
        """A voice-activity event of a turn: `end_index` where speech stopped at a pause (or None at its start),
        `ended` for the end of the turn. True when the voice should be estimated now (call `voice`)."""
        with self._lock:
            turn = self._turns.setdefault(turn_id, _Turn())
            turn.start = start_index
            if ended:
                turn.end = end_index
            for old in [t for t in self._turns if t < turn_id - FORGET_MS]:
                del self._turns[old]
        return self.hears_voice and end_index is not None

    def knows(self, turn_id: int) -> bool:
        """Whether the turn's voice can be heard (its audio is known)."""
        return self.hears_voice and turn_id in self._turns

    def voice(self, turn_id: int, until: int | None = None) -> EmotionEstimate | None:
        """The voice's estimate for the turn so far (or `until` a sample index), reusing one made on (nearly) the
        same audio."""
        with self._lock:
            turn = self._turns.get(turn_id)
            start, end, cached = (turn.start, turn.end or until, turn.voice) if turn else (None, None, None)
        if start is None:
            return None
        if cached is not None and end is not None and cached[0] >= end - REUSE_WITHIN:
            return cached[1]
        if end is not None and not self.audio.wait_for(start, end, AUDIO_WAIT_S):
            self.health.problem("late_audio", f"turn {turn_id}: its audio had not arrived with its end")
        audio = self.audio.get(start, end)
        if len(audio) <= SAMPLE_RATE // 4:
            return cached[1] if cached else None
        if end is None and cached is not None and start + len(audio) - cached[0] < PARTIAL_EVERY:
            return cached[1]  # while the user speaks, a fresh look at the voice once a second is enough
        estimate = self.acoustic_model.estimate(audio)
        with self._lock:
            if turn_id in self._turns:
                self._turns[turn_id].voice = (start + len(audio), estimate)
        self.health.timing("acoustic_inference", estimate.inference_ms)
        return estimate

    def mood_of(self, voice_id: str = "") -> Mood:
        """The mood of one voice: people in one conversation do not share a mood."""
        return self.moods.setdefault(voice_id, Mood(self.mood_alpha))

    def estimate(self, turn_id: int, text: str, final: bool, voice_id: str = "") -> TurnEstimate:
        """The turn's emotion from its words and, when its audio is known, its voice. A final estimate moves the
        mood of the voice that spoke it."""
        if self.knows(turn_id):
            acoustic = self.voice(turn_id)
            words = self.text_model.estimate(text) if text.strip() else None
        else:
            acoustic, words = None, self.text_model.estimate(text)
        if acoustic is None and words is None:
            words = self.text_model.estimate("")
        weight = self.text_weight * (self.text_model.evidence(words) if words else 0.0)
        fused = fuse(acoustic, words, weight)
        modality = "fused" if acoustic and words else "acoustic" if acoustic else "text"
        mood = self.mood_of(voice_id)
        if final:
            mood_v, mood_a = mood.update(fused.valence, fused.arousal)
        else:
            mood_v, mood_a = mood.valence, mood.arousal
        return TurnEstimate(turn_id, final, fused, modality, mood_v, mood_a, voice_id)
