"""Speech synthesis: Piper (en_US-joe-medium, onnxruntime) with espeak-ng as the fallback voice.

Replies are split into sentences, and long sentences into clauses, so the first audio is ready after the first
short piece rather than after the whole reply. Speaking styles map to prosody (see STYLES).
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from optimus_voice.engines.models import ModelMissingError, piper_voice_path


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


def split_text(text: str, max_words: int = 12) -> list[str]:
    """Sentences, with sentences longer than max_words split at clause punctuation."""
    pieces: list[str] = []
    for sentence in _SENTENCE.split(text.strip()):
        if not sentence:
            continue
        if len(sentence.split()) <= max_words:
            pieces.append(sentence)
            continue
        pieces += [c for c in _CLAUSE.split(sentence) if c]
    return pieces


@dataclass
class SpeechChunk:
    samples: np.ndarray   # float32 mono
    sample_rate: int
    text: str
    synth_ms: float


class Synthesizer:
    """Piper when its voice is installed, else espeak-ng; `backend` says which one is in use."""

    def __init__(self, voice_path: str = "", allow_fallback: bool = True, threads: int = 1) -> None:
        self.voice = None
        try:
            from piper import PiperVoice

            self.voice = PiperVoice.load(str(piper_voice_path(voice_path)))
            self.backend = "piper"
            self.sample_rate = int(self.voice.config.sample_rate)
        except (ModelMissingError, ImportError) as exc:
            if not allow_fallback or shutil.which("espeak-ng") is None:
                raise
            self.load_error = str(exc)
            self.backend = "espeak-ng"
            self.sample_rate = 22050

    def synthesize(self, text: str, style: str = "neutral", rate: float = 1.0,
                   volume: float = 1.0) -> Iterator[SpeechChunk]:
        prosody = STYLES.get(style, STYLES["neutral"])
        for piece in split_text(text):
            t0 = time.perf_counter()
            audio = self._piper(piece, prosody, rate) if self.voice else self._espeak(piece, prosody, rate)
            audio = np.clip(audio * prosody.volume * volume, -1.0, 1.0).astype(np.float32)
            yield SpeechChunk(audio, self.sample_rate, piece, (time.perf_counter() - t0) * 1000)

    def _piper(self, text: str, p: Prosody, rate: float) -> np.ndarray:
        from piper import SynthesisConfig

        cfg = SynthesisConfig(length_scale=p.length_scale / max(rate, 0.1), noise_scale=p.noise_scale,
                              noise_w_scale=p.noise_w, normalize_audio=True)
        parts = [c.audio_float_array for c in self.voice.synthesize(text, cfg)]
        return np.concatenate(parts) if parts else np.zeros(0, np.float32)

    def _espeak(self, text: str, p: Prosody, rate: float) -> np.ndarray:
        import soundfile as sf
        import soxr

        wpm = int(175 / p.length_scale * rate)
        wav = subprocess.run(["espeak-ng", "--stdout", "-v", "en-us", "-s", str(wpm), "-p", str(p.espeak_pitch), text],
                             check=True, capture_output=True, timeout=30).stdout
        audio, sr = sf.read(io.BytesIO(wav), dtype="float32")
        return soxr.resample(audio, sr, self.sample_rate).astype(np.float32) if sr != self.sample_rate else audio
