"""Voice identities in a live session: each user turn gets the id of the voice that spoke it.

`TurnVoices` embeds a turn's speech while it arrives (a GE2E window every `step_s`, about 6 ms each), so at the end
of the turn only the last window is left and the id is ready with the final transcript. `VoiceRegistry` matches the
turn's vector against the voices heard so far in this session and enrolls a new voice when none is close. Ids are
anonymous and live for the session ("voice_1", "voice_2", ...), as REP-155's voice ids do.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from optimus_voice.hearing.voice_encoder import RATE, VoiceEncoder


@dataclass(frozen=True)
class VoiceIdConfig:
    """Defaults from `bench/voices.py --tune` on the tune halves (BENCHMARKS.md, "Who is speaking")."""

    match_above: float = 0.65  # cosine to a voice's centroid above which a turn is that voice
    min_enroll_s: float = 1.5  # a turn with less speech than this never enrolls a new voice: it takes the nearest
    max_voices: int = 16  # beyond this, a turn takes the nearest voice
    step_s: float = 0.4  # between the windows embedded while a turn is spoken


@dataclass
class VoiceMatch:
    voice_id: str
    similarity: float  # cosine to the voice's centroid before this turn joined it; 1.0 for a new voice
    enrolled: bool  # a new voice
    speech_s: float
    embed_ms: float  # compute spent embedding this turn, all windows together


@dataclass
class _Voice:
    voice_id: str
    total: np.ndarray  # sum of the turns' vectors, weighted by their seconds of speech
    turns: int = 0
    speech_s: float = 0.0

    @property
    def centroid(self) -> np.ndarray:
        return self.total / max(float(np.linalg.norm(self.total)), 1e-9)


class VoiceRegistry:
    """The voices of this session: match a turn's vector to one, or enroll a new one."""

    def __init__(self, config: VoiceIdConfig | None = None) -> None:
        self.config = config or VoiceIdConfig()
        self.voices: list[_Voice] = []
        self._next = 1

    @property
    def next_id(self) -> str:
        """The id the next new voice would get, or "" when no more voices are enrolled."""
        return f"voice_{self._next}" if len(self.voices) < self.config.max_voices else ""

    def nearest(self, vector: np.ndarray) -> tuple[_Voice | None, float]:
        if not self.voices:
            return None, -1.0
        sims = [float(v.centroid @ vector) for v in self.voices]
        best = int(np.argmax(sims))
        return self.voices[best], sims[best]

    def peek(self, vector: np.ndarray) -> str:
        """The voice this vector would join now, or "" when it would be a new one (nothing is changed)."""
        voice, sim = self.nearest(vector)
        return voice.voice_id if voice is not None and sim >= self.config.match_above else ""

    def identify(self, vector: np.ndarray, speech_s: float, embed_ms: float = 0.0) -> VoiceMatch:
        cfg = self.config
        voice, sim = self.nearest(vector)
        new = voice is None or (sim < cfg.match_above and speech_s >= cfg.min_enroll_s
                                and len(self.voices) < cfg.max_voices)
        if new:
            voice = _Voice(f"voice_{self._next}", np.zeros_like(vector))
            self._next += 1
            self.voices.append(voice)
            sim = 1.0
        voice.total = voice.total + vector * max(speech_s, 0.1)
        voice.turns += 1
        voice.speech_s += speech_s
        return VoiceMatch(voice.voice_id, round(sim, 4), new, round(speech_s, 3), round(embed_ms, 2))

    def forget(self) -> None:
        """A new session: every voice is unknown again."""
        self.voices.clear()
        self._next = 1


@dataclass
class _TurnAudio:
    first_index: int
    chunks: list[np.ndarray] = field(default_factory=list)
    samples: int = 0
    vectors: list[np.ndarray] = field(default_factory=list)
    next_window: int = 0  # start (samples into the turn) of the next window to embed
    embed_ms: float = 0.0


class TurnVoices:
    """Speech of the open turns in, one `VoiceMatch` per finished turn out."""

    def __init__(self, encoder: VoiceEncoder, registry: VoiceRegistry | None = None) -> None:
        self.encoder = encoder
        self.registry = registry or VoiceRegistry()
        self._turns: dict[int, _TurnAudio] = {}
        self._window = round(encoder.config.window_s * RATE)
        self._step = round(self.registry.config.step_s * RATE)

    def add_audio(self, turn_id: int, first_index: int, samples: np.ndarray) -> None:
        """Audio of a turn in stream order; full windows are embedded as soon as they are complete."""
        turn = self._turns.get(turn_id)
        if turn is None:
            for old in [t for t in self._turns if t < turn_id]:  # a turn that never ended (stream restarted)
                del self._turns[old]
            turn = self._turns[turn_id] = _TurnAudio(first_index)
        turn.chunks.append(np.asarray(samples, np.float32))
        turn.samples += len(samples)
        if turn.next_window + self._window > turn.samples:
            return  # no window is complete: the chunks are joined only when one is (not at each of 50 frames a s)
        audio = self._audio(turn)
        while turn.next_window + self._window <= turn.samples:
            self._embed(turn, audio[turn.next_window:turn.next_window + self._window])
            turn.next_window += self._step

    def provisional(self, turn_id: int) -> str:
        """The voice the turn so far sounds like, or "" (not enough speech yet, or a voice not heard before)."""
        turn = self._turns.get(turn_id)
        if turn is None or not turn.vectors:
            return ""
        return self.registry.peek(_unit(np.mean(turn.vectors, axis=0)))

    def finish(self, turn_id: int, end_index: int | None = None) -> VoiceMatch | None:
        """The turn ended (speech stopped at stream index `end_index`): its voice, matched or enrolled."""
        turn = self._turns.pop(turn_id, None)
        if turn is None:
            return None
        audio = self._audio(turn)
        end = len(audio) if end_index is None else int(np.clip(end_index - turn.first_index, 0, len(audio)))
        if end < int(0.3 * RATE):
            return None  # too little speech to say whose it is
        # Windows reaching past the end of speech hold the silence the endpoint waited for: keep those whose speech
        # fills most of them, and cover the last words with one window ending at the end of speech.
        kept = [v for v, start in zip(turn.vectors, range(0, 10**12, self._step), strict=False)
                if start + self._window <= end + self._window // 4]
        last_covered = (len(kept) - 1) * self._step + self._window if kept else 0
        if not kept or end - last_covered > self._step // 2:
            tail = audio[max(0, end - self._window):end]
            kept.append(self._embed(turn, tail))
        vector = _unit(np.mean(kept, axis=0))
        return self.registry.identify(vector, end / RATE, turn.embed_ms)

    def drop(self, turn_id: int) -> None:
        self._turns.pop(turn_id, None)

    def _audio(self, turn: _TurnAudio) -> np.ndarray:
        if len(turn.chunks) > 1:
            turn.chunks = [np.concatenate(turn.chunks)]
        return turn.chunks[0]

    def _embed(self, turn: _TurnAudio, audio: np.ndarray) -> np.ndarray:
        t0 = time.perf_counter()
        vector = self.encoder.embed(audio)
        turn.embed_ms += (time.perf_counter() - t0) * 1000
        turn.vectors.append(vector)
        return vector


def _unit(v: np.ndarray) -> np.ndarray:
    return (v / max(float(np.linalg.norm(v)), 1e-9)).astype(np.float32)
