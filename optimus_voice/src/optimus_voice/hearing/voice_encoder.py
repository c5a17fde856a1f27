"""Who is speaking, as a vector: the GE2E speaker encoder of Resemblyzer (Apache-2.0), run with onnxruntime.

The encoder maps 1.6 s of speech (160 frames of a 40-band power mel spectrogram, 25 ms windows every 10 ms) to a
256-dimensional unit vector; two stretches of the same voice have a high cosine similarity. `tools/
export_voice_encoder.py` exported the network from the wheel's `pretrained.pt`; the mel front end below is the
one the network was trained with (librosa's Slaney mel filters, centred frames), rewritten in numpy so that the
robot needs neither torch nor librosa.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from optimus_voice.common.models import voice_encoder_path

RATE = 16000
N_FFT = 400  # 25 ms
HOP = 160  # 10 ms
N_MELS = 40
WINDOW_FRAMES = 160  # 1.6 s: the span the network was trained on
EMBEDDING_SIZE = 256


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    """Slaney's mel scale: linear below 1 kHz, logarithmic above (librosa's default, htk=False)."""
    f = np.asarray(f, dtype=np.float64)
    mel = f / (200.0 / 3)
    log_part = 15.0 + np.log(np.maximum(f, 1e-10) / 1000.0) / (np.log(6.4) / 27.0)
    return np.where(f >= 1000.0, log_part, mel)


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    hz = m * (200.0 / 3)
    exp_part = 1000.0 * np.exp((np.log(6.4) / 27.0) * (m - 15.0))
    return np.where(m >= 15.0, exp_part, hz)


@lru_cache(maxsize=1)
def mel_filters() -> np.ndarray:
    """(40, 201) triangular filters with Slaney area normalisation, as librosa.filters.mel builds them."""
    fft_freqs = np.linspace(0, RATE / 2, N_FFT // 2 + 1)
    mel_points = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(RATE / 2), N_MELS + 2))
    widths = np.diff(mel_points)
    ramps = mel_points[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_points[2:] - mel_points[:-2]))[:, None]
    return weights.astype(np.float32)


def mel_spectrogram(audio: np.ndarray) -> np.ndarray:
    """(frames, 40) power mel spectrogram of 16 kHz float audio; frame i is centred on sample i * 160."""
    x = np.asarray(audio, dtype=np.float32)
    x = np.pad(x, (N_FFT // 2, N_FFT // 2))
    n_frames = 1 + (len(x) - N_FFT) // HOP
    if n_frames <= 0:
        return np.zeros((0, N_MELS), np.float32)
    idx = np.arange(N_FFT)[None, :] + HOP * np.arange(n_frames)[:, None]
    window = np.hanning(N_FFT + 1)[:-1].astype(np.float32)  # periodic Hann, as scipy's get_window
    power = np.abs(np.fft.rfft(x[idx] * window, axis=1)) ** 2
    return (power.astype(np.float32) @ mel_filters().T).astype(np.float32)


def normalize_volume(audio: np.ndarray, target_dbfs: float = -30.0) -> np.ndarray:
    """Bring audio to `target_dbfs` RMS, the level the encoder was trained at (its vectors change with level;
    Resemblyzer only raises quiet audio, we also lower loud audio so that one voice gets one vector at any gain)."""
    x = np.asarray(audio, dtype=np.float32)
    rms = float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if len(x) else 0.0
    if rms <= 1e-7:
        return x
    gain = 10 ** (target_dbfs / 20) / rms
    return x * np.float32(gain)


@dataclass(frozen=True)
class VoiceEncoderConfig:
    model_path: str = ""
    threads: int = 1
    window_s: float = 1.6  # the network's training span; shorter speech is encoded as it is
    step_s: float = 0.4  # between windows when one utterance is encoded as the mean of several


class VoiceEncoder:
    """Speech in, unit voice vectors out: one per window (`embed_windows`) or one per utterance (`embed`)."""

    def __init__(self, config: VoiceEncoderConfig | None = None) -> None:
        import onnxruntime as ort

        self.config = config or VoiceEncoderConfig()
        options = ort.SessionOptions()
        options.intra_op_num_threads = max(1, self.config.threads)
        options.inter_op_num_threads = 1
        self.path = voice_encoder_path(self.config.model_path)
        self._session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])

    def encode_mels(self, mels: np.ndarray) -> np.ndarray:
        """(B, T, 40) mel windows -> (B, 256) unit vectors."""
        if len(mels) == 0:
            return np.zeros((0, EMBEDDING_SIZE), np.float32)
        (out,) = self._session.run(None, {"mels": np.ascontiguousarray(mels, dtype=np.float32)})
        return out

    def embed_windows(self, audio: np.ndarray, starts_s: np.ndarray | list[float]) -> np.ndarray:
        """One vector per window of `window_s` seconds starting at each of `starts_s` (seconds into `audio`)."""
        mel = mel_spectrogram(normalize_volume(audio))
        n = round(self.config.window_s * RATE / HOP)
        if len(starts_s) == 0:
            return np.zeros((0, EMBEDDING_SIZE), np.float32)
        mel = np.pad(mel, ((0, n), (0, 0)))
        batch = np.stack([mel[round(s * RATE / HOP):][:n] for s in starts_s])
        return self.encode_mels(batch)

    def embed(self, audio: np.ndarray) -> np.ndarray:
        """One unit vector for a whole utterance: the normalised mean of its overlapping windows."""
        audio = normalize_volume(audio)
        duration = len(audio) / RATE
        window, step = self.config.window_s, self.config.step_s
        if duration <= window:
            vectors = self.encode_mels(mel_spectrogram(audio)[None])
        else:
            starts = np.arange(0.0, duration - window + 1e-6, step)
            if duration - (starts[-1] + window) > step / 2:
                starts = np.append(starts, duration - window)
            vectors = self.embed_windows(audio, starts)
        mean = vectors.mean(axis=0)
        return (mean / max(float(np.linalg.norm(mean)), 1e-9)).astype(np.float32)
