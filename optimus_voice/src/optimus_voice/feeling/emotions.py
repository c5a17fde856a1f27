"""The emotions the stack speaks of: the label set, where each sits in valence and arousal, one estimate, and
the user's mood across turns (no rclpy)."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

LABELS = ("neutral", "happy", "sad", "angry", "fearful", "disgust", "surprised")

# Circumplex position of each label: (valence, arousal) in [-1, 1].
CIRCUMPLEX = {
    "neutral": (0.0, 0.0), "happy": (0.8, 0.5), "sad": (-0.7, -0.5), "angry": (-0.6, 0.8),
    "fearful": (-0.6, 0.6), "disgust": (-0.7, 0.2), "surprised": (0.3, 0.8),
}

@dataclass
class EmotionEstimate:
    label: str
    scores: dict[str, float]
    valence: float
    arousal: float
    inference_ms: float


def estimate_from_scores(probs: np.ndarray, started: float, valence: float | None = None) -> EmotionEstimate:
    """Label, scores, and valence/arousal as the probability-weighted circumplex position."""
    scores = {label: float(p) for label, p in zip(LABELS, probs, strict=True)}
    circ_v = float(sum(scores[k] * CIRCUMPLEX[k][0] for k in LABELS))
    arousal = float(sum(scores[k] * CIRCUMPLEX[k][1] for k in LABELS))
    return EmotionEstimate(max(scores, key=scores.get), scores, circ_v if valence is None else valence, arousal,
                           (time.perf_counter() - started) * 1000)


class Mood:
    """Exponentially smoothed valence and arousal of the user's final turns."""

    def __init__(self, alpha: float = 0.3) -> None:
        self.alpha = alpha
        self.valence = 0.0
        self.arousal = 0.0

    def update(self, valence: float, arousal: float) -> tuple[float, float]:
        self.valence += self.alpha * (valence - self.valence)
        self.arousal += self.alpha * (arousal - self.arousal)
        return self.valence, self.arousal
