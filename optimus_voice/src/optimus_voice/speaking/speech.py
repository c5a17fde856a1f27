"""A reply as the stream the speaker plays (no rclpy): synthesized a piece at a time, cut into frames on one
running sample index, with the lip-sync visemes of each piece placed on the same index and on the clock.

A reply can be prepared before it is asked for (the user paused, and may be done): its first piece is synthesized
and held. If the reply then asked for is the same, it starts from the held piece; if not, the piece is dropped."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass

import numpy as np
from optimus_voice.contract.health import Health
from optimus_voice.contract.stamps import NS_PER_S, now_ns
from optimus_voice.speaking.playback import PlaybackTracker, Utterance
from optimus_voice.speaking.tts import SpeechChunk, Synthesizer


@dataclass
class AudioOut:
    turn_id: int
    first_sample_index: int      # on the speech stream
    samples: np.ndarray          # float32 mono
    sample_rate: int
    stamp_ns: int                # when it was sent (the first sample is due to play from then)


@dataclass
class VisemeOut:
    viseme: str
    phonemes: str
    start_ns: int                # when it will be heard, if playback keeps pace from the reply's first frame
    duration_s: float
    sample_index: int            # on the speech stream


@dataclass
class VisemesOut:
    turn_id: int
    sample_rate: int
    visemes: list[VisemeOut]


@dataclass
class _Held:
    key: tuple                   # (turn, text, style, rate, volume) of the prepared reply
    first: SpeechChunk | None    # its first piece (None: nothing to pronounce)
    rest: Iterator[SpeechChunk]  # the synthesis of the others, not started


def _key(turn_id: int, text: str, style: str, rate: float, volume: float) -> tuple:
    return turn_id, text, style or "neutral", rate or 1.0, volume or 1.0


class SpeechOutput:
    """Speaks replies into frames of `frame_ms`, keeping the tracker's account of what was sent."""

    def __init__(self, synth: Synthesizer, tracker: PlaybackTracker, frame_ms: float = 40.0,
                 health: Health | None = None, clock: Callable[[], int] = now_ns) -> None:
        self.clock = clock
        self.synth = synth
        self.tracker = tracker
        self.frame_ms = frame_ms
        self.health = health or Health()
        self.index = 0  # the speech stream's sample index
        self._held: _Held | None = None

    def prepare(self, turn_id: int, text: str, style: str = "neutral", rate: float = 1.0,
                volume: float = 1.0) -> None:
        """Synthesize the first piece of a reply that may be asked for next, and hold it (one reply is held)."""
        self._drop_held()
        key = _key(turn_id, text, style, rate, volume)
        rest = self.synth.synthesize(*key[1:])
        first = next(rest, None)
        self._held = _Held(key, first, rest)
        if first is not None and not first.cached:
            self.health.timing("prepared_piece", first.synth_ms)

    def _drop_held(self) -> None:
        if self._held is not None:
            self.health.count("prepared_dropped")
            self._held = None

    def _pieces(self, key: tuple) -> Iterator[SpeechChunk]:
        """The reply's pieces: from the held one if it was prepared, else synthesized from the start."""
        held = self._held
        if held is not None and held.key == key:
            self._held = None
            self.health.count("prepared_used")
            return itertools.chain([held.first] if held.first is not None else [], held.rest)
        self._drop_held()
        return self.synth.synthesize(*key[1:])

    def speak(self, turn_id: int, text: str, style: str = "neutral", rate: float = 1.0,
              volume: float = 1.0, ticket: int | None = None) -> Iterator[AudioOut | VisemesOut]:
        """Frames and visemes of one reply, until it is done, interrupted or superseded by a newer turn. `ticket`:
        the tracker's for this request; nothing is said if a stop came since it was taken."""
        if not self.tracker.wanted(ticket):
            return
        utt = self.tracker.begin(turn_id, text)
        t0 = time.perf_counter()
        for chunk in self._pieces(_key(turn_id, text, style, rate, volume)):
            if utt.finished or self.tracker.superseded(turn_id) or not self.tracker.wanted(ticket):
                return
            pieces = chunk.text.split()
            # Word ends from the phoneme alignment, else spread evenly over the piece's audio.
            ends = chunk.word_ends or [int(len(chunk.samples) * (i + 1) / len(pieces)) for i in range(len(pieces))]
            utt.words += [(w, utt.samples + end) for w, end in zip(pieces, ends, strict=True)]
            if chunk.visemes:
                yield self._visemes(utt, chunk)
            if not (yield from self._frames(utt, chunk, t0)):
                return  # stopped mid-piece
            if chunk.cached:
                self.health.count("pieces_from_cache")
            else:
                self.health.timing("synthesis_per_piece", chunk.synth_ms)
        utt.synthesized = True
        self.health.count("utterances")

    def sound(self, turn_id: int, samples: np.ndarray, sample_rate: int) -> Iterator[AudioOut]:
        """A sound that is not speech (the echo canceller's learning sound) as frames on the speech stream: no
        words, no visemes, nothing for the tracker to report."""
        frame = int(sample_rate * self.frame_ms / 1000)
        for start in range(0, len(samples), frame):
            part = samples[start:start + frame]
            yield AudioOut(turn_id, self.index, part, sample_rate, self.clock())
            self.index += len(part)

    def _frames(self, utt: Utterance, chunk: SpeechChunk, t0: float) -> Generator[AudioOut, None, bool]:
        """The piece's frames; returns False if the reply was stopped before all were sent."""
        frame = int(chunk.sample_rate * self.frame_ms / 1000)
        for start in range(0, len(chunk.samples), frame):
            if utt.finished:
                return False
            part = chunk.samples[start:start + frame]
            stamp = self.clock()
            if not utt.first_audio_ns:
                utt.first_audio_ns = stamp
                self.health.timing("first_audio", (time.perf_counter() - t0) * 1000)
            yield AudioOut(utt.turn_id, self.index, part, chunk.sample_rate, stamp)
            self.index += len(part)
            utt.samples += len(part)
        return True

    def _visemes(self, utt: Utterance, chunk: SpeechChunk) -> VisemesOut:
        """Visemes of the piece about to be sent: sample indices on the stream, and the time each will be heard if
        playback keeps pace from the first frame of the reply."""
        rate = chunk.sample_rate
        first_ns = utt.first_audio_ns or self.clock()
        return VisemesOut(utt.turn_id, rate, [
            VisemeOut(v.viseme, v.phonemes, first_ns + (utt.samples + v.start) * NS_PER_S // rate, v.samples / rate,
                      self.index + v.start) for v in chunk.visemes])
