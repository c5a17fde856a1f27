"""A stand-in user's voice for demos and tests where no recording of the sentence exists: espeak-ng, with a voice
other than the robot's (Piper's joe), resampled to the stack's 16 kHz. Whoever shows it says it is synthesized."""

from __future__ import annotations

import io
import shutil
import subprocess

import numpy as np
from optimus_voice.contract.audio import SAMPLE_RATE

USER_VOICE = "en-gb+f2"  # a woman's voice (the robot's is a man's), the one tiny.en heard best of five tried


def speak_as_user(text: str, voice: str = USER_VOICE, words_per_minute: int = 165) -> np.ndarray:
    """`text` spoken by the stand-in user, float32 at 16 kHz."""
    import soundfile as sf
    import soxr

    espeak = shutil.which("espeak-ng")
    if espeak is None:
        raise RuntimeError("espeak-ng is not installed (apt: espeak-ng)")
    wav = subprocess.run([espeak, "--stdout", "-v", voice, "-s", str(words_per_minute), "--stdin"],
                         input=text.encode(), check=True, capture_output=True, timeout=30).stdout
    audio, rate = sf.read(io.BytesIO(wav), dtype="float32")
    return soxr.resample(audio, rate, SAMPLE_RATE).astype(np.float32) if rate != SAMPLE_RATE else audio
