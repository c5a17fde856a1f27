"""Streaming speech recognition: turns segmented by Silero VAD, partial and final Whisper transcripts.

StreamingAsr turns a stream of AudioChunks into voice-activity events and partial/final transcripts. It is
synchronous: the caller runs it in its own thread, so a decode never blocks audio intake (audio queues while a
decode runs and the VAD catches up in a few milliseconds). With `background_partials`, partials are decoded on a
thread of their own: the VAD keeps up while one runs, and the speculative final at a pause never waits for one.

Endpointing: at the first short pause the final decode starts speculatively. If the text reads as a finished
sentence, `end_silence_ms` of silence ends the turn; if it trails off ("and", "um", a comma) the turn waits up to
`hold_silence_ms`. When the user stays quiet the speculative result is the final transcript, so it is ready as the
turn ends instead of one decode later; when they go on talking it is dropped.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from optimus_voice.audio_io.sources import AudioChunk
from optimus_voice.contract.audio import SAMPLE_RATE
from optimus_voice.contract.stamps import NS_PER_S, TurnCounter, now_ns
from optimus_voice.hearing.endpoint import needed_silence_ms, sounds_complete
from optimus_voice.hearing.vad import WINDOW, SileroVad
from optimus_voice.hearing.whisper import Hypothesis, WhisperRecognizer, WordHyp

if TYPE_CHECKING:
    from optimus_voice.hearing.turn_model import SmartTurn, TurnVerdict


CONTEXT_MAX_S = 10.0  # at most this much of the previous turn is decoded again before a turn that reads on from it


def ms_to_samples(ms: float) -> int:
    return int(ms * SAMPLE_RATE / 1000)


@dataclass
class AsrConfig:
    vad_threshold: float = 0.5          # VAD probability that counts as speech
    vad_neg_threshold: float = 0.35     # below this, a window counts as silence
    min_speech_ms: float = 200.0        # speech needed before a turn opens
    spec_silence_ms: float = 64.0       # silence after which the final decode starts speculatively
    end_silence_ms: float = 256.0       # silence that ends a turn after a complete sentence
    hold_silence_ms: float = 800.0      # silence that ends a turn that trails off (and any turn at the latest)
    max_turn_s: float = 20.0            # a turn is cut here however the user goes on
    preroll_ms: float = 600.0           # audio kept in front of the detected speech start
    trailing_ms: float = 500.0          # silence decoded after the end of speech
    pad_trailing: bool = True           # make up trailing silence not yet heard with digital silence
    partial_interval_ms: float = 500.0  # speech between two partial transcripts; 0 disables partials
    partial_max_lag_ms: float = 150.0   # skip a partial while the audio being processed is older than this
    background_partials: bool = False   # decode partials on a thread of their own (a second recognizer worker)
    # The audio turn model (Smart Turn) at each pause, fused with the text rule (endpoint.needed_silence_ms). Its
    # thresholds and silences were tuned by `optimus-voice bench turns` on half the speakers (BENCHMARKS.md).
    turn_model: bool = True
    turn_hold_below: float = 0.02       # below this the voice says "more to come": hold_silence_ms
    turn_done_above: float = 0.7        # above this, and the text complete: fast_silence_ms
    fast_silence_ms: float = 128.0      # silence that ends a turn both the text and the voice call finished
    unsure_silence_ms: float = 384.0    # silence that ends a turn the text and the voice disagree on
    context_gap_ms: float = 1500.0      # a turn this soon after the previous one is read on from it; 0: never
    context_audio: bool = True          # ... from its audio and text (False: from its text alone, as a prompt)


CONFIG_HELP = {
    "vad_threshold": "VAD probability that counts as speech.",
    "vad_neg_threshold": "VAD probability below which a window is silence.",
    "min_speech_ms": "Speech needed before a turn opens (ms).",
    "spec_silence_ms": "Silence after which the final decode starts speculatively (ms).",
    "end_silence_ms": "Silence that ends a turn whose text is a complete sentence (ms).",
    "hold_silence_ms": "Silence that ends a turn trailing off ('and', 'um', a comma), and any turn at the latest (ms).",
    "max_turn_s": "Longest turn (s); longer speech is cut into turns.",
    "preroll_ms": "Audio kept in front of the detected speech start (ms).",
    "trailing_ms": "Silence decoded after the end of speech (ms).",
    "pad_trailing": "Make up trailing silence not yet heard (speculative decodes) with digital silence.",
    "partial_interval_ms": "Speech between partial transcripts (ms); 0 disables partials.",
    "partial_max_lag_ms": "Skip a partial while the audio being processed is older than this (ms): catching up "
                          "with real time comes first.",
    "turn_model": "Run the audio turn model (Smart Turn v3.2) at each pause and fuse it with the text rule.",
    "turn_hold_below": "Turn-model probability below which a pause holds the turn, whatever the text says.",
    "turn_done_above": "Turn-model probability above which a complete-sounding turn ends after fast_silence_ms.",
    "fast_silence_ms": "Silence that ends a turn both the text and the turn model call finished (ms).",
    "unsure_silence_ms": "Silence that ends a turn the text and the turn model disagree on (ms).",
    "context_gap_ms": "A turn whose speech starts within this long of the previous turn's end is decoded as what "
                      "follows that turn (a sentence cut at a pause reads on); 0: never.",
    "context_audio": "Read such a turn on from the previous turn's audio and text (Whisper decodes both, made to "
                     "begin with the text); false: from its text alone, as Whisper's previous text.",
    "background_partials": "Decode partials on a thread of their own (the recognizer gets a second worker), so "
                           "the final decode at a pause never waits for one; worth it with cores to spare.",
}


@dataclass
class VadEvent:
    kind: str          # "start" | "ongoing" (a pause: end_index is where speech stopped) | "end"
    turn_id: int
    probability: float
    start_index: int
    start_ns: int
    end_index: int = 0
    end_ns: int = 0
    # "start": share of the speech that opened the turn in which the echo canceller heard a voice over the robot's
    double_talk: float = 0.0
    onset_ns: int = 0  # "start": where the VAD heard the speech begin (start_ns is earlier by the preroll)


@dataclass
class SpeechAudio:
    """Audio of the user's turn, in stream order: the preroll and first speech when the turn opens, then each
    chunk while it lasts (the pause and the end come after the audio they refer to)."""

    turn_id: int
    first_sample_index: int
    samples: np.ndarray
    stamp_ns: int      # capture time of the first sample


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
class _Said:
    """What the previous turn heard, for the turn after it to read on from."""

    start_index: int
    end_index: int   # end of speech
    text: str
    words: list[WordHyp]


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
    speculative: tuple[int, Hypothesis] | None = None  # (end of speech index, hypothesis) at the current pause
    done: float | None = None  # the turn model's probability, at the current pause, that the user is finished
    context: str = ""          # the previous turn's text, if it ended just before (context_gap_ms)
    context_audio: np.ndarray | None = None  # the audio that text was heard in, up to this turn's (context_audio)
    context_said: _Said | None = None        # its words, timed from the start of context_audio


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
    """VAD-segmented turns with periodic partial decodes and a speculative final decode at the first pause."""

    def __init__(self, vad: SileroVad, recognizer: WhisperRecognizer, config: AsrConfig | None = None,
                 turns: TurnCounter | None = None, clock: Callable[[], int] = now_ns,
                 turn_model: SmartTurn | None = None) -> None:
        self.vad = vad
        self.recognizer = recognizer
        # Hears at each pause whether the user is done (used when cfg.turn_model is on); it runs on a thread of its
        # own beside the speculative decode, so it adds no time to the pause.
        self.turn_model = turn_model
        self._turn_thread = ThreadPoolExecutor(1, "asr-turn-model") if turn_model is not None else None
        self.last_verdict: TurnVerdict | None = None
        self.cfg = config or AsrConfig()
        self.turns = turns or TurnCounter()
        self.clock = clock  # the clock the audio is stamped with: how far behind real time the audio being heard is
        self._preroll: deque[np.ndarray] = deque()
        self._preroll_samples = 0
        self._double_talk: deque[tuple[int, int, float]] = deque()  # recent chunks' (index, length, double talk)
        self._index = 0            # stream index of the next sample to reach the VAD
        self._ref = (0, 0)         # (sample index, capture ns) of the latest chunk, to stamp any index
        self._speech_run = 0
        self._silence_run = 0
        self._turn: _Turn | None = None
        self._handed_out = 0       # stream index up to which turn audio went to on_speech_audio
        self.last_probability = 0.0
        self.speculative_hits = 0  # finals that reused the decode started at the pause
        self._last_turn: _Said | None = None
        # Called with the "ongoing" event of a pause before its speculative decode starts, so other stages (the
        # voice's emotion) can work on the same audio meanwhile instead of after the final transcript.
        self.on_pause: Callable[[VadEvent], None] | None = None
        # Called with the audio of each turn as it arrives, so the voice can be analysed without all the audio.
        self.on_speech_audio: Callable[[SpeechAudio], None] | None = None
        self._partials = ThreadPoolExecutor(1, "asr-partial") if self.cfg.background_partials else None
        self._pending: Future | None = None  # the partial decoding there; dropped when its turn pauses or ends

    def stamp(self, index: int) -> int:
        ref_index, ref_ns = self._ref
        return ref_ns + (index - ref_index) * NS_PER_S // SAMPLE_RATE

    def push(self, chunk: AudioChunk) -> list[VadEvent | TranscriptEvent]:
        # The VAD holds back under one window, so a chunk normally starts in [_index, _index + WINDOW). Anything else
        # is a gap (audio dropped upstream) or a jump back (a restarted or corrupt stream): follow the new position.
        if not self._index <= chunk.first_sample_index <= self._index + WINDOW:
            self._index = chunk.first_sample_index
            self._handed_out = min(self._handed_out, self._index)
        self._ref = (chunk.first_sample_index, chunk.stamp_ns)
        events: list[VadEvent | TranscriptEvent] = []
        pending_start = self._index
        probs = self.vad.push(chunk.samples)
        self._keep(chunk.samples if chunk.words is None else chunk.words)  # the words from the ungated audio
        self._double_talk.append((chunk.first_sample_index, len(chunk.samples), chunk.double_talk))
        while len(self._double_talk) > 1 and self._double_talk[1][0] <= self._index - ms_to_samples(
                self.cfg.min_speech_ms + 1000):
            self._double_talk.popleft()
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

    def close(self) -> None:
        """Stop the partials' and the turn model's threads (work they are running is dropped)."""
        for pool in (self._partials, self._turn_thread):
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)

    # -- internals -------------------------------------------------------------------------------------------
    def _keep(self, samples: np.ndarray) -> None:
        if self._turn is not None:
            self._turn.audio.append(samples)
            self._turn.samples += len(samples)
            self._speech_audio(self._ref[0], samples)
        self._preroll.append(samples)
        self._preroll_samples += len(samples)
        # Enough for the preroll, the speech the VAD needs to open a turn, and its reaction time; and for the
        # previous turn, when a turn may read on from it.
        context_ms = self.cfg.context_gap_ms + CONTEXT_MAX_S * 1000 if self._reads_on() else 0.0
        limit = ms_to_samples(self.cfg.preroll_ms + self.cfg.min_speech_ms + 1000 + context_ms)
        while self._preroll_samples - len(self._preroll[0]) > limit:
            self._preroll_samples -= len(self._preroll.popleft())

    def _step(self, p: float, window_start: int) -> list[VadEvent | TranscriptEvent]:
        cfg = self.cfg
        if self._turn is None:
            self._speech_run = self._speech_run + WINDOW if p >= cfg.vad_threshold else 0
            if self._speech_run >= ms_to_samples(cfg.min_speech_ms):
                return [self._open_turn(window_start + WINDOW - self._speech_run, p)]
            return []
        t = self._turn
        if p < cfg.vad_neg_threshold:
            self._silence_run += WINDOW
        else:
            self._silence_run = 0
            t.speculative = None  # the user goes on: what was decoded at the pause is not the end
        end_index = window_start + WINDOW - self._silence_run
        if window_start - t.start_index >= cfg.max_turn_s * SAMPLE_RATE:
            return self._end_turn(end_index)
        if not self._silence_run:
            return []
        events: list[VadEvent | TranscriptEvent] = []
        if t.speculative is None and self._silence_run >= ms_to_samples(cfg.spec_silence_ms):
            if self.on_pause is not None:
                self.on_pause(VadEvent("ongoing", t.turn_id, p, t.start_index, t.start_ns, end_index,
                                       self.stamp(end_index)))
            self._pending = None  # a partial still decoding is older than what the pause decodes
            verdict = self._hear_turn_end(end_index)
            hyp = self._decode(end_index, word_timestamps=True)
            t.speculative = (end_index, hyp)
            t.done = None
            if verdict is not None:
                self.last_verdict = verdict.result()
                t.done = self.last_verdict.complete
            events.append(self._partial_event(hyp))
        needed = cfg.hold_silence_ms
        if t.speculative is not None:
            needed = needed_silence_ms(sounds_complete(t.speculative[1].text), t.done, cfg)
        if self._silence_run >= ms_to_samples(max(needed, cfg.spec_silence_ms)):
            events += self._end_turn(end_index)
        return events

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
        if self._reads_on() and self._last_turn is not None \
                and speech_index - self._last_turn.end_index <= ms_to_samples(self.cfg.context_gap_ms):
            if self.cfg.context_audio and (said := self._said_before(buffered_from, start_index)) is not None:
                self._turn.context_said = said
                self._turn.context = said.text
                self._turn.context_audio = audio[said.start_index - buffered_from:start_index - buffered_from]
            else:
                self._turn.context = self._last_turn.text
        self._silence_run = 0
        self._speech_run = 0
        # The preroll may reach back into the previous turn (Whisper reads a word better with what led up to it);
        # the turn's audio is handed out from where the previous turn's ended, so none is handed out twice.
        skip = min(max(0, self._handed_out - start_index), len(self._turn.audio[0]))
        self._speech_audio(start_index + skip, self._turn.audio[0][skip:])
        return VadEvent("start", turn_id, p, start_index, start_ns, double_talk=self._double_talk_since(speech_index),
                        onset_ns=self.stamp(speech_index))

    def _reads_on(self) -> bool:
        return self.cfg.context_gap_ms > 0

    def _said_before(self, buffered_from: int, start_index: int) -> _Said | None:
        """What the previous turn said in the audio before `start_index` that the ring holds (from `buffered_from`):
        at most CONTEXT_MAX_S of it, cut before a word, with word times from where that audio starts."""
        said = self._last_turn
        earliest = max(buffered_from, start_index - ms_to_samples(CONTEXT_MAX_S * 1000))
        begin, words = said.start_index, said.words
        if begin < earliest:
            words = [w for w in words if said.start_index + ms_to_samples(w.start_s * 1000 - 200) >= earliest]
            begin = said.start_index + ms_to_samples(words[0].start_s * 1000 - 200) if words else start_index
        if not words or begin >= start_index:
            return None
        shift = (begin - said.start_index) / SAMPLE_RATE
        words = [w.shifted(-shift) for w in words]
        return _Said(begin, said.end_index, " ".join(w.text for w in words), words)

    def _double_talk_since(self, index: int) -> float:
        """Share of the audio from `index` on that the echo canceller judged double talk."""
        total = weighted = 0.0
        for first, n, value in self._double_talk:
            overlap = first + n - max(first, index)
            if overlap > 0:
                total += overlap
                weighted += overlap * value
        return round(weighted / total, 3) if total else 0.0

    def _speech_audio(self, first_index: int, samples: np.ndarray) -> None:
        if self.on_speech_audio is not None and len(samples):
            self.on_speech_audio(SpeechAudio(self._turn.turn_id, first_index, samples, self.stamp(first_index)))
        self._handed_out = max(self._handed_out, first_index + len(samples))

    def _turn_audio(self) -> np.ndarray:
        t = self._turn
        audio = np.concatenate(t.audio) if len(t.audio) > 1 else t.audio[0]
        t.audio = [audio]
        return audio

    def _hear_turn_end(self, end_index: int) -> Future | None:
        """Start the turn model on the turn's audio up to this pause (as much silence as the pause has so far)."""
        if self._turn_thread is None or not self.cfg.turn_model:  # the thread is there when the model is
            return None
        t = self._turn
        audio = self._turn_audio()[:end_index - t.start_index + ms_to_samples(self.cfg.spec_silence_ms)]
        return self._turn_thread.submit(self.turn_model.predict, audio)  # type: ignore[union-attr]

    def _decode(self, end_index: int, word_timestamps: bool) -> Hypothesis:
        """Decode the turn up to end_index plus trailing_ms of silence: what has arrived of it, and digital silence
        for the rest (Whisper misreads the last word of audio that stops abruptly)."""
        t = self._turn
        audio = self._turn_audio()
        speech = max(end_index - t.start_index, WINDOW)
        trailing = ms_to_samples(self.cfg.trailing_ms)
        audio = audio[:speech + trailing]
        if self.cfg.pad_trailing and len(audio) < speech + trailing:
            audio = np.concatenate([audio, np.zeros(speech + trailing - len(audio), np.float32)])
        if t.context_audio is not None:
            hyp = self.recognizer.transcribe_after(t.context_audio, t.context, audio, word_timestamps)
            if hyp is not None:
                return hyp
            # the model heard nothing more, or looped: this turn alone, cold
        return self.recognizer.transcribe(audio, word_timestamps=word_timestamps, previous=self._prompt())

    def _prompt(self) -> str:
        """The previous text a decode of this turn alone reads first: the previous turn's, unless this turn reads
        on from its audio (then partials are decoded cold, as the final is when the model adds nothing)."""
        return "" if self._turn.context_audio is not None else self._turn.context

    def _partial_event(self, hyp: Hypothesis) -> TranscriptEvent:
        t = self._turn
        words = hyp.text.split()
        t.stable = max(t.stable, min(agreed_prefix(t.previous_words, words), len(words)))
        t.previous_words = words
        return TranscriptEvent(t.turn_id, hyp, False, min(t.stable, len(words)), t.start_index, t.start_ns)

    def _maybe_partial(self) -> list[TranscriptEvent]:
        t = self._turn
        events = self._decoded_partial()
        interval = ms_to_samples(self.cfg.partial_interval_ms)
        # No partial during a pause: nothing new was said, and the speculative final covers it.
        if (interval <= 0 or self._silence_run or t.samples - t.last_partial_at < interval
                or self._pending is not None):
            return events
        if (self.clock() - self._ref[1]) / 1e6 > self.cfg.partial_max_lag_ms:
            return events  # behind real time (a decode took long): a stale partial would only delay the final
        t.last_partial_at = t.samples
        audio = self._turn_audio()  # never changed in place: later audio is appended to the turn as new arrays
        if self._partials is None:
            return [self._partial_event(self.recognizer.transcribe(audio, word_timestamps=False, fallback=False,
                                                                   previous=self._prompt()))]
        self._pending = self._partials.submit(self.recognizer.transcribe, audio, word_timestamps=False,
                                              fallback=False, previous=self._prompt())
        return events

    def _decoded_partial(self) -> list[TranscriptEvent]:
        """The background partial, once decoded."""
        if self._pending is None or not self._pending.done():
            return []
        decode, self._pending = self._pending, None
        return [self._partial_event(decode.result())]

    def _end_turn(self, end_index: int) -> list[VadEvent | TranscriptEvent]:
        t = self._turn
        end_ns = self.stamp(end_index)
        if t.speculative is not None and t.speculative[0] == end_index:
            hyp = t.speculative[1]
            self.speculative_hits += 1
        else:
            hyp = self._decode(end_index, word_timestamps=True)
        self._turn = None
        self._pending = None
        self._silence_run = 0
        self._last_turn = _Said(t.start_index, end_index, hyp.text, hyp.words)
        if hyp.continues and t.context_said is not None:  # a sentence read on: the next turn may read on from all
            before = t.context_said
            shift = (t.start_index - before.start_index) / SAMPLE_RATE
            words = [*before.words, *(w.shifted(shift) for w in hyp.words)]
            self._last_turn = _Said(before.start_index, end_index, " ".join(w.text for w in words), words)
        n = len(hyp.text.split())
        return [VadEvent("end", t.turn_id, self.last_probability, t.start_index, t.start_ns, end_index, end_ns),
                TranscriptEvent(t.turn_id, hyp, True, n, t.start_index, t.start_ns, end_ns)]
