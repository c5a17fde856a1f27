"""Fusion of what the voice and the words say about the user's emotion (no rclpy)."""

from __future__ import annotations

import time

import numpy as np
from optimus_voice.feeling.emotions import LABELS, EmotionEstimate, estimate_from_scores


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
    # Valence and arousal from the fused scores, so they always agree with the label (the words' own valence had
    # shown "disgust" at +0.36 when VADER liked the word "like").
    fused = estimate_from_scores(probs, t0)
    fused.inference_ms += acoustic.inference_ms + text.inference_ms
    return fused
