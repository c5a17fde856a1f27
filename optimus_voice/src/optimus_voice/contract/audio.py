"""PCM audio helpers and validation shared by every stage (no rclpy)."""

from __future__ import annotations

import numpy as np

S16LE = "S16LE"
F32LE = "F32LE"
SAMPLE_RATE = 16000  # the stack's internal rate
_WIDTH = {S16LE: 2, F32LE: 4}


class AudioFormatError(ValueError):
    """Raised for audio that cannot be used: the message says why."""


def decode_pcm(encoding: str, sample_rate: int, channels: int, data: bytes, *,
               expected_rate: int = SAMPLE_RATE, max_seconds: float = 2.0, keep_channels: bool = False) -> np.ndarray:
    """Validate a PCM payload and return float32 samples in [-1, 1]: mono (the channels averaged), or (n, channels)
    with `keep_channels`."""
    if encoding not in _WIDTH:
        raise AudioFormatError(f"unsupported encoding {encoding!r} (expected {S16LE} or {F32LE})")
    if sample_rate != expected_rate:
        raise AudioFormatError(f"sample rate {sample_rate} Hz, expected {expected_rate} Hz")
    if channels < 1:
        raise AudioFormatError(f"invalid channel count {channels}")
    if len(data) == 0:
        raise AudioFormatError("empty frame")
    width = _WIDTH[encoding] * channels
    if len(data) % width:
        raise AudioFormatError(f"{len(data)} bytes is not a whole number of {channels}-channel {encoding} samples")
    n = len(data) // width
    if n > max_seconds * sample_rate:
        raise AudioFormatError(f"oversized frame: {n / sample_rate:.2f} s > {max_seconds} s")
    if encoding == S16LE:
        samples = np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0
    else:
        samples = np.frombuffer(data, dtype="<f4").astype(np.float32)
        if not np.all(np.isfinite(samples)):
            raise AudioFormatError("NaN or infinite float samples")
        samples = np.clip(samples, -1.0, 1.0)
    if keep_channels:
        return samples.reshape(n, channels)
    if channels > 1:
        samples = samples.reshape(n, channels).mean(axis=1)
    return samples


def to_s16le(samples: np.ndarray) -> bytes:
    """float32 [-1, 1] -> S16LE bytes (clipped; (n, channels) interleaved); the exact inverse of decode_pcm, so a
    round trip is lossless."""
    return np.clip(np.rint(np.asarray(samples, dtype=np.float64) * 32768.0), -32768, 32767).astype("<i2").tobytes()


def frames(samples: np.ndarray, frame_samples: int):
    """Split samples into consecutive frames of frame_samples (the last one may be shorter)."""
    for start in range(0, len(samples), frame_samples):
        yield start, samples[start:start + frame_samples]
