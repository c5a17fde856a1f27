"""The learning sound: a soft swell of noise the robot plays once at start-up, so that the microphone's echo
canceller learns the room before the robot's first reply (no rclpy).

An adaptive filter learns an echo path only where the speaker's sound has energy, and speech has little in most
bands at any moment: from nothing, the canceller removed 2.4 dB of the first half-second of a first reply and 11.9 dB
of its second second (medians of 20 simulated rooms), so the robot's first words reached the recognizer as words
(the false barge-ins of `bench duplex --cold`). Pink noise holds every band at once: after 1.5 s of it, the first
half-second lost 42.2 dB (BENCHMARKS.md, 2026-12-07). The capture node asks for it only when it has no echo path
kept from an earlier run (/audio/in/echo_learning); the TTS node plays it.
"""

from __future__ import annotations

import numpy as np

SECONDS = 1.5         # 1 s took 26 dB off a reply's first half-second, 1.5 s 38 dB (tuning rooms, BENCHMARKS.md)
LEVEL_DBFS = -24.0    # RMS: 6 dB under the Piper voice's (-18 dBFS), loud enough to stand over a room's noise
LOW_HZ, HIGH_HZ = 100.0, 7800.0  # the band the canceller works in (16 kHz), less the lowest rumble


def learning_sound(sample_rate: int, seconds: float = SECONDS, level_dbfs: float = LEVEL_DBFS,
                   seed: int = 0) -> np.ndarray:
    """Pink noise from LOW_HZ to HIGH_HZ (or the Nyquist frequency) under a half-sine swell, at `level_dbfs` RMS:
    float32 mono at `sample_rate`. The same sound for the same arguments."""
    if sample_rate <= 0 or seconds <= 0:
        raise ValueError(f"a learning sound needs a positive rate and length, not {sample_rate} Hz, {seconds} s")
    n = round(seconds * sample_rate)
    spectrum = np.fft.rfft(np.random.default_rng(seed).standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1.0 / sample_rate)
    band = (freqs >= LOW_HZ) & (freqs <= HIGH_HZ)
    # 1/f power: equal energy per octave, as speech spreads it, so no band is learnt much later than another.
    noise = np.fft.irfft(np.where(band, 1.0 / np.sqrt(np.maximum(freqs, LOW_HZ)), 0.0) * spectrum, n)
    # A swell, no edge: it rises and falls as a breath does, and has no click for the filter or the ear.
    sound = noise * np.sin(np.pi * (np.arange(n) + 0.5) / n)
    rms = float(np.sqrt(np.mean(sound ** 2)))
    return (sound * (10 ** (level_dbfs / 20) / rms)).astype(np.float32)
