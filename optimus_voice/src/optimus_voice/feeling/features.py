"""Acoustic features of an utterance for the speech-emotion model (numpy and CTranslate2, no torch).

Two views of how something was said:
- Whisper tiny.en's encoder states (the model the ASR already ships), averaged and spread over the speech frames:
  the encoder has learned a great deal about voice quality and prosody from 680k hours of speech;
- classic prosody: loudness and pitch-proxy statistics, speaking-rate proxy and the log-mel spectrum's mean and
  spread, which carry arousal (angry, happy and fearful speech is louder, higher and faster than sad speech).
The same function feeds training (tools/train_emotion.py) and the emotion node, so they cannot drift apart.
"""

from __future__ import annotations

import numpy as np
from optimus_voice.contract.audio import SAMPLE_RATE
from optimus_voice.hearing.whisper import FRAMES_PER_S, padded_window

MIN_SECONDS = 0.5


class EmotionFeatures:
    """`features(samples)` -> a 1-D float32 vector (ENCODER_DIM * 2 + PROSODY_DIM)."""

    def __init__(self, model_path: str = "", threads: int = 1, compute_type: str = "int8") -> None:
        from faster_whisper import WhisperModel
        from optimus_voice.common.models import whisper_model_path

        self.model = WhisperModel(str(whisper_model_path(model_path)), device="cpu", compute_type=compute_type,
                                  cpu_threads=threads, local_files_only=True)

    def features(self, samples: np.ndarray) -> np.ndarray:
        samples = np.asarray(samples, dtype=np.float32)
        if len(samples) < MIN_SECONDS * SAMPLE_RATE:
            samples = np.pad(samples, (0, int(MIN_SECONDS * SAMPLE_RATE) - len(samples)))
        samples = samples[: 29 * SAMPLE_RATE]
        mel = self.model.feature_extractor(samples)           # (80, frames), Whisper's log-mel scaling
        n = min(mel.shape[-1], int(len(samples) / SAMPLE_RATE * FRAMES_PER_S) + 1)
        window = padded_window(n, 1.0)  # as the ASR decodes it: a bounded set of shapes, so memory stays level
        padded = np.pad(mel[:, :window], ((0, 0), (0, max(0, window - mel.shape[-1]))))
        states = np.array(self.model.encode(padded))[0][: n // 2]  # (positions, 384), 20 ms per position
        encoder = np.concatenate([states.mean(0), states.std(0)])
        return np.concatenate([encoder, prosody(samples, mel[:, :n])]).astype(np.float32)


def prosody(samples: np.ndarray, mel: np.ndarray) -> np.ndarray:
    """Loudness, brightness, pitch-proxy and rhythm statistics of an utterance (PROSODY_DIM values)."""
    frame = SAMPLE_RATE // FRAMES_PER_S
    n = len(samples) // frame
    frames = samples[: n * frame].reshape(n, frame)
    rms = np.sqrt((frames ** 2).mean(1) + 1e-10)
    db = 20 * np.log10(rms)
    voiced = db > db.max() - 30                            # frames within 30 dB of the loudest
    zcr = (np.abs(np.diff(np.sign(frames), axis=1)) > 0).mean(1)
    bands = np.arange(mel.shape[0], dtype=np.float32)
    weights = np.exp(mel * 4)                              # undo Whisper's (log10 + 4) / 4 scaling
    centroid = (weights * bands[:, None]).sum(0) / (weights.sum(0) + 1e-9)
    v = voiced[: mel.shape[1]] if mel.shape[1] <= len(voiced) else np.pad(voiced, (0, mel.shape[1] - len(voiced)))
    onsets = np.maximum(np.diff(db), 0)

    def stats(x: np.ndarray) -> list[float]:
        x = x if len(x) else np.zeros(1)
        return [float(x.mean()), float(x.std()), float(np.percentile(x, 10)), float(np.percentile(x, 90))]

    return np.array(
        stats(db[voiced] - db.max()) + stats(zcr[voiced]) + stats(centroid[v]) + stats(onsets)
        + [float(voiced.mean()), float(np.abs(samples).max() > 0.99)]
        + list(mel[:, v].mean(1) if v.any() else mel.mean(1)) + list(mel[:, v].std(1) if v.any() else mel.std(1)),
        dtype=np.float32)


ENCODER_DIM = 384
PROSODY_DIM = 4 * 4 + 2 + 80 * 2
FEATURE_DIM = ENCODER_DIM * 2 + PROSODY_DIM
