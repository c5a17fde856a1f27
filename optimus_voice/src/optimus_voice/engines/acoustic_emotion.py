"""Speech emotion from the voice: our MLP (trained with tools/train_emotion.py, run with onnxruntime) on the
features of engines/emotion_features.py, and its fusion with the text estimate (no rclpy, no torch)."""

from __future__ import annotations

import time

import numpy as np

from optimus_voice.engines.emotion import CIRCUMPLEX, LABELS, EmotionEstimate
from optimus_voice.engines.emotion_features import EmotionFeatures
from optimus_voice.engines.models import emotion_model_path


def estimate_from_scores(probs: np.ndarray, started: float, valence: float | None = None) -> EmotionEstimate:
    """Label, scores, and valence/arousal as the probability-weighted circumplex position."""
    scores = {label: float(p) for label, p in zip(LABELS, probs, strict=True)}
    circ_v = float(sum(scores[k] * CIRCUMPLEX[k][0] for k in LABELS))
    arousal = float(sum(scores[k] * CIRCUMPLEX[k][1] for k in LABELS))
    return EmotionEstimate(max(scores, key=scores.get), scores, circ_v if valence is None else valence, arousal,
                           (time.perf_counter() - started) * 1000)


class AcousticEmotion:
    """`estimate(samples)` for one utterance at 16 kHz."""

    def __init__(self, model_path: str = "", whisper_path: str = "", threads: int = 1) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        self.session = ort.InferenceSession(str(emotion_model_path(model_path)), sess_options=opts,
                                            providers=["CPUExecutionProvider"])
        self.features = EmotionFeatures(whisper_path, threads=threads)

    def estimate(self, samples: np.ndarray) -> EmotionEstimate:
        t0 = time.perf_counter()
        x = self.features.features(samples)[None, :]
        probs = self.session.run(None, {"features": x})[0][0]
        return estimate_from_scores(probs, t0)


def fuse(acoustic: EmotionEstimate | None, text: EmotionEstimate | None, text_weight: float) -> EmotionEstimate:
    """Late fusion in the log domain: log p = log p_voice + text_weight * log p_words. Callers scale text_weight
    by how much emotion the words show (TextEmotion.evidence): a plain sentence says nothing about how it was
    said, "I hate this" says a lot."""
    t0 = time.perf_counter()
    if acoustic is None or text is None:
        only = acoustic or text
        if only is None:
            raise ValueError("nothing to fuse")
        return only
    pa = np.array([acoustic.scores[k] for k in LABELS]) + 1e-6
    pt = np.array([text.scores[k] for k in LABELS]) + 1e-6
    logp = np.log(pa) + text_weight * np.log(pt)
    probs = np.exp(logp - logp.max())
    probs /= probs.sum()
    fused = estimate_from_scores(probs, t0)
    # Valence: what was said, when it says something, else how it sounded.
    fused.valence = text.valence if abs(text.valence) > 0.3 else 0.5 * (fused.valence + text.valence)
    fused.inference_ms += acoustic.inference_ms + text.inference_ms
    return fused
