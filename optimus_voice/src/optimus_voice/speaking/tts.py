"""Speech synthesis: Piper (en_US-joe-medium, onnxruntime) with espeak-ng as the fallback voice.

Replies are split into sentences, long sentences into clauses, and the first piece is kept to a few words, so the
first audio is ready after a short piece rather than after the whole reply (Piper's cost grows with the length of
what it speaks). Speaking styles map to prosody (see STYLES). With the `onnx` package Piper also reports how many
samples each phoneme took, which become lip-sync visemes aligned to the audio. Pieces spoken lately are kept
(`cache_s` seconds of audio): a piece said again ("Sorry, I didn't get that.") is ready at once.
"""

from __future__ import annotations

import io
import math
import re
import shutil
import subprocess
import time
import unicodedata
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from optimus_voice.common.models import ModelMissingError, piper_voice_path
from optimus_voice.speaking.spoken_text import speakable
from optimus_voice.speaking.visemes import VisemeSpan, to_visemes


@dataclass(frozen=True)
class Prosody:
    length_scale: float   # >1 slower
    noise_scale: float    # phoneme-level variability (livelier intonation when higher)
    noise_w: float        # duration variability
    volume: float
    espeak_pitch: int     # 0-99 for the fallback voice


# Speaking style -> prosody. Happy and excited are faster, livelier and louder; sad and calm slower, flatter and
# softer.
STYLES = {
    "neutral": Prosody(1.00, 0.667, 0.80, 1.00, 50),
    "happy": Prosody(0.92, 0.75, 0.90, 1.05, 60),
    "excited": Prosody(0.85, 0.80, 1.00, 1.10, 70),
    "sad": Prosody(1.18, 0.50, 0.60, 0.85, 35),
    "calm": Prosody(1.10, 0.55, 0.60, 0.90, 45),
}

_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_CLAUSE = re.compile(r"(?<=[,;:])\s+")
# Good places to break a long opening without punctuation: before these words.
_BREAK_BEFORE = {"and", "but", "or", "so", "because", "to", "with", "for", "that", "which", "when", "if", "in", "on"}


def _split_first(piece: str, first_max_words: int) -> list[str]:
    """Break an opening longer than first_max_words at a comma, else before a conjunction or preposition, else at
    the limit."""
    words = piece.split()
    if len(words) <= first_max_words:
        return [piece]
    comma = next((i + 1 for i in range(first_max_words - 1, 1, -1) if words[i].endswith((",", ";", ":"))), None)
    cut = comma or next((i for i in range(first_max_words, 2, -1) if words[i].lower() in _BREAK_BEFORE),
                        first_max_words)
    return [" ".join(words[:cut]), " ".join(words[cut:])]


def split_text(text: str, max_words: int = 12, first_max_words: int = 6) -> list[str]:
    """Sentences, sentences longer than max_words split at clause punctuation, and a short first piece."""
    pieces: list[str] = []
    for sentence in _SENTENCE.split(text.strip()):
        if not sentence:
            continue
        if len(sentence.split()) <= max_words:
            pieces.append(sentence)
            continue
        for clause in (c for c in _CLAUSE.split(sentence) if c):  # clauses, merged back up to max_words
            if pieces and not pieces[-1].endswith((".", "!", "?")) and \
                    len(pieces[-1].split()) + len(clause.split()) <= max_words:
                pieces[-1] += " " + clause
            else:
                pieces.append(clause)
    if pieces and first_max_words > 0:
        pieces[:1] = _split_first(pieces[0], first_max_words)
    return pieces


@dataclass
class SpeechChunk:
    samples: np.ndarray   # float32 mono
    sample_rate: int
    text: str
    synth_ms: float
    visemes: list[VisemeSpan] = field(default_factory=list)  # relative to samples[0]; empty without alignments
    word_ends: list[int] = field(default_factory=list)  # sample where each word of `text` ends (empty: unknown)
    cached: bool = False  # spoken before with the same prosody: taken from the cache, not synthesized


def word_ends(visemes: list[VisemeSpan], n_words: int, n_samples: int) -> list[int]:
    """Where each word ends, from the pauses between words in the phoneme alignment; [] if they do not match."""
    if not visemes:
        return []
    gaps = [v.start for v in visemes[1:] if v.viseme == "sil" and " " in v.phonemes]
    return [*gaps, n_samples] if len(gaps) == n_words - 1 else []


RATE_RANGE = (0.5, 2.0)
VOLUME_RANGE = (0.0, 2.0)


def _bounded(value: float, low: float, high: float) -> float:
    return 1.0 if not math.isfinite(value) else min(max(value, low), high)


def clean_text(text: str) -> str:
    """Drop control and format characters (NUL, bidi overrides) that a synthesizer cannot take. Line breaks stay:
    they end the lines of a list (`speakable`)."""
    return "".join(c if c == "\n" or unicodedata.category(c)[0] != "C" else " " for c in text)


class PieceCache:
    """Audio of the pieces spoken lately by (text, prosody, rate), at most `max_samples` in all; the least recently
    used goes first."""

    def __init__(self, max_samples: int) -> None:
        self.max_samples = max_samples
        self.samples = 0
        self._pieces: OrderedDict[tuple, tuple[np.ndarray, list[VisemeSpan]]] = OrderedDict()

    def get(self, key: tuple) -> tuple[np.ndarray, list[VisemeSpan]] | None:
        found = self._pieces.get(key)
        if found is not None:
            self._pieces.move_to_end(key)
        return found

    def put(self, key: tuple, audio: np.ndarray, visemes: list[VisemeSpan]) -> None:
        if key in self._pieces or len(audio) > self.max_samples:
            return
        self._pieces[key] = (audio, visemes)
        self.samples += len(audio)
        while self.samples > self.max_samples:
            old, _ = self._pieces.popitem(last=False)[1]
            self.samples -= len(old)


class Synthesizer:
    """Piper when its voice is installed, else espeak-ng; `backend` says which one is in use."""

    def __init__(self, voice_path: str = "", allow_fallback: bool = True, alignments: bool = True,
                 cache_s: float = 0.0) -> None:
        self.voice = None
        self.alignments = False
        try:
            from piper import PiperVoice

            path = str(piper_voice_path(voice_path))
            if alignments:
                try:  # the model is patched in memory to output phoneme durations; that needs `onnx`
                    import onnx  # noqa: F401

                    self.alignments = True
                except ImportError:
                    pass
            self.voice = PiperVoice.load(path, include_alignments=self.alignments)
            self.backend = "piper"
            self.sample_rate = int(self.voice.config.sample_rate)
        except (ModelMissingError, ImportError) as exc:
            self.espeak = shutil.which("espeak-ng") or shutil.which("espeak")  # Ubuntu's rosdep key is `espeak`
            if not allow_fallback or self.espeak is None:
                raise
            self.load_error = str(exc)
            self.backend = Path(self.espeak).name
            self.sample_rate = 22050
        self.cache = PieceCache(int(cache_s * self.sample_rate)) if cache_s > 0 else None

    def synthesize(self, text: str, style: str = "neutral", rate: float = 1.0, volume: float = 1.0, *,
                   prosody: Prosody | None = None) -> Iterator[SpeechChunk]:
        """Speak `text` a piece at a time. Control characters and markup are dropped, times, dates and amounts are
        said in words (`speakable`), pieces with nothing to pronounce are skipped, and rate and volume are held to
        safe ranges (NaN means the default). Each piece's `text` is what was said. `prosody` replaces the style's;
        with both noise scales 0, Piper speaks the same text the same way every time."""
        prosody = prosody or STYLES.get(style, STYLES["neutral"])
        rate, volume = _bounded(rate, *RATE_RANGE), _bounded(volume, *VOLUME_RANGE)
        for piece in self._pieces(text):
            yield self._chunk(piece, prosody, rate, volume)

    def warm(self, text: str, style: str = "neutral") -> bool:
        """Synthesize the first piece of a reply likely to be said, into the cache, so that it is ready at once when
        it is (the rest is synthesized while the first plays). False if it was there already, or nothing is kept."""
        pieces = self._pieces(text)
        prosody = STYLES.get(style, STYLES["neutral"])
        if self.cache is None or not pieces or self.cache.get((pieces[0], prosody, 1.0)) is not None:
            return False
        self._chunk(pieces[0], prosody, 1.0, 1.0)
        return True

    @staticmethod
    def _pieces(text: str) -> list[str]:
        """The pieces `text` is said in, as said; none with nothing to pronounce."""
        return [p for p in split_text(speakable(clean_text(text))) if any(c.isalnum() for c in p)]

    def _chunk(self, piece: str, prosody: Prosody, rate: float, volume: float) -> SpeechChunk:
        """One piece's audio: from the cache by (piece, prosody, rate), else synthesized and kept there."""
        t0 = time.perf_counter()
        key = (piece, prosody, rate)
        found = self.cache.get(key) if self.cache is not None else None
        if found is not None:
            audio, visemes = found
        elif self.voice:
            audio, visemes = self._piper(piece, prosody, rate)
        else:
            audio, visemes = self._espeak(piece, prosody, rate), []
        if found is None and self.cache is not None:
            self.cache.put(key, audio, visemes)
        audio = np.clip(audio * prosody.volume * volume, -1.0, 1.0).astype(np.float32)
        return SpeechChunk(audio, self.sample_rate, piece, (time.perf_counter() - t0) * 1000, visemes,
                           word_ends(visemes, len(piece.split()), len(audio)), cached=found is not None)

    def _piper(self, text: str, p: Prosody, rate: float) -> tuple[np.ndarray, list[VisemeSpan]]:
        from piper import SynthesisConfig

        cfg = SynthesisConfig(length_scale=p.length_scale / rate, noise_scale=p.noise_scale,
                              noise_w_scale=p.noise_w, normalize_audio=True)
        parts, aligned = [], []
        for chunk in self.voice.synthesize(text, cfg, include_alignments=self.alignments):
            parts.append(chunk.audio_float_array)
            if chunk.phoneme_alignments:
                aligned += [(a.phoneme, a.num_samples) for a in chunk.phoneme_alignments]
            else:  # alignment failed for this chunk: keep the mouth closed over its samples
                aligned.append(("$", len(chunk.audio_float_array)))
        audio = np.concatenate(parts) if parts else np.zeros(0, np.float32)
        return audio, to_visemes(aligned) if self.alignments else []

    def _espeak(self, text: str, p: Prosody, rate: float) -> np.ndarray:
        import soundfile as sf
        import soxr

        wpm = int(175 / p.length_scale * rate)
        # The text goes in on stdin: a reply that starts with "-" is spoken, never read as an option.
        wav = subprocess.run([self.espeak, "--stdout", "-v", "en-us", "-s", str(wpm), "-p", str(p.espeak_pitch),
                              "--stdin"], input=text.encode(), check=True, capture_output=True, timeout=30).stdout
        audio, sr = sf.read(io.BytesIO(wav), dtype="float32")
        return soxr.resample(audio, sr, self.sample_rate).astype(np.float32) if sr != self.sample_rate else audio
