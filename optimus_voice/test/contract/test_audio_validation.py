"""Bad audio is rejected with a clear reason; good audio decodes exactly."""

import numpy as np
import pytest
from optimus_voice.contract.audio import F32LE, S16LE, AudioFormatError, decode_pcm, to_s16le


def test_s16_roundtrip_is_exact_to_one_lsb():
    x = np.linspace(-0.9, 0.9, 320, dtype=np.float32)
    y = decode_pcm(S16LE, 16000, 1, to_s16le(x))
    assert np.max(np.abs(x - y)) < 1.0 / 16384


@pytest.mark.parametrize(("encoding", "rate", "channels", "data", "reason"), [
    (S16LE, 16000, 1, b"\x00\x01\x02", "whole number"),
    (S16LE, 44100, 1, b"\x00\x00" * 320, "sample rate"),
    ("MP3", 16000, 1, b"\x00\x00" * 320, "unsupported encoding"),
    (S16LE, 16000, 1, b"", "empty"),
    (S16LE, 16000, 0, b"\x00\x00", "channel"),
    (S16LE, 16000, 1, b"\x00\x00" * 16000 * 3, "oversized"),
    (F32LE, 16000, 1, np.array([0.1, np.nan], "<f4").tobytes(), "NaN"),
    (F32LE, 16000, 1, np.array([np.inf, 0.0], "<f4").tobytes(), "NaN or infinite"),
])
def test_bad_frames_are_rejected(encoding, rate, channels, data, reason):
    with pytest.raises(AudioFormatError, match=reason):
        decode_pcm(encoding, rate, channels, data)


def test_stereo_is_downmixed():
    left = np.full(160, 0.5, np.float32)
    right = np.zeros(160, np.float32)
    inter = np.stack([left, right], axis=1).reshape(-1)
    y = decode_pcm(F32LE, 16000, 2, inter.astype("<f4").tobytes())
    assert y.shape == (160,)
    assert np.allclose(y, 0.25)
