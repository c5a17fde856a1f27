"""Generalized cross-correlation with phase transform (GCC-PHAT): the delay between two signals (no rclpy).

Used twice: the delay from the speaker's reference to the microphone (echo cancellation's diagnostics), and the
time difference of arrival between two microphones (the talker's direction).
"""

from __future__ import annotations

import numpy as np


def gcc_phat(sig: np.ndarray, ref: np.ndarray, max_lag: int, interp: int = 1) -> tuple[float, float]:
    """(lag in samples by which `sig` trails `ref`, peak sharpness). `interp` > 1 refines the lag to a fraction
    of a sample. The sharpness is the peak over the mean absolute correlation: about 1-3 for no common signal,
    far higher for a clear one."""
    n = len(sig) + len(ref)
    nfft = 1 << (n - 1).bit_length()
    cross = np.fft.rfft(sig, nfft) * np.conj(np.fft.rfft(ref, nfft))
    cross /= np.abs(cross) + 1e-12
    cc = np.fft.irfft(cross, nfft * interp)
    max_shift = min(int(max_lag * interp), nfft * interp // 2)
    cc = np.concatenate([cc[-max_shift:], cc[:max_shift + 1]])
    peak = int(np.argmax(np.abs(cc)))
    sharpness = float(np.abs(cc[peak]) / (np.mean(np.abs(cc)) + 1e-12))
    return (peak - max_shift) / interp, sharpness
