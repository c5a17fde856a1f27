"""The user's emotion from what they said (text modality), and their mood across turns.

Valence comes from the VADER lexicon (shipped in the vaderSentiment package); the label from emotion cue words
weighed with that valence. The acoustic model and the acoustic/text fusion come on top of this (issue 5).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

import numpy as np

LABELS = ("neutral", "happy", "sad", "angry", "fearful", "disgust", "surprised")

# Circumplex position of each label: (valence, arousal) in [-1, 1].
CIRCUMPLEX = {
    "neutral": (0.0, 0.0), "happy": (0.8, 0.5), "sad": (-0.7, -0.5), "angry": (-0.6, 0.8),
    "fearful": (-0.6, 0.6), "disgust": (-0.7, 0.2), "surprised": (0.3, 0.8),
}

CUES = {
    "happy": "happy glad great wonderful awesome love lovely amazing fantastic excellent yay joy excited fun nice "
             "delighted thrilled perfect beautiful",
    "sad": "sad unhappy lonely alone miss cry crying depressed down tired lost sorry hurt grief upset heartbroken",
    "angry": "angry mad furious hate annoyed annoying stupid ridiculous rage irritated sick fed outraged",
    "fearful": "afraid scared fear frightened worried nervous anxious terrified panic dangerous help",
    "disgust": "disgusting gross yuck nasty revolting awful horrible vile",
    "surprised": "wow whoa surprised unbelievable incredible really seriously suddenly unexpected omg",
}
_CUE_WORDS = {w: label for label, words in CUES.items() for w in words.split()}
_TOKEN = re.compile(r"[a-z']+")


@dataclass
class EmotionEstimate:
    label: str
    scores: dict[str, float]
    valence: float
    arousal: float
    inference_ms: float


class TextEmotion:
    """Emotion of a transcript from lexicons: VADER valence plus emotion cue words."""

    def __init__(self) -> None:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        self.vader = SentimentIntensityAnalyzer()
        self._neutral_baseline = self.estimate("").scores["neutral"]

    def evidence(self, est: EmotionEstimate) -> float:
        """How much emotion the words show, 0 (a plain sentence) to 1: the drop of P(neutral) below its level
        for no words at all."""
        return float(np.clip(1.0 - est.scores["neutral"] / self._neutral_baseline, 0.0, 1.0))

    def estimate(self, text: str) -> EmotionEstimate:
        t0 = time.perf_counter()
        valence = float(self.vader.polarity_scores(text)["compound"]) if text.strip() else 0.0
        logits = {label: 0.0 for label in LABELS}
        logits["neutral"] = 1.0
        for token in _TOKEN.findall(text.lower()):
            if token in _CUE_WORDS:
                logits[_CUE_WORDS[token]] += 1.5
        # Valence moves mass between pleasant and unpleasant labels.
        logits["happy"] += 2.0 * max(valence, 0.0)
        for label in ("sad", "angry", "fearful", "disgust"):
            logits[label] += 1.0 * max(-valence, 0.0)
        if "!" in text:
            logits["surprised"] += 0.3
        exp = np.exp(np.array([logits[label] for label in LABELS]) * 1.5)
        probs = exp / exp.sum()
        scores = {label: float(p) for label, p in zip(LABELS, probs, strict=True)}
        label = max(scores, key=scores.get)
        arousal = float(sum(scores[k] * CIRCUMPLEX[k][1] for k in LABELS))
        return EmotionEstimate(label, scores, valence, arousal, (time.perf_counter() - t0) * 1000)


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
