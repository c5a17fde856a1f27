"""The user's emotion from what they said (text modality).

Valence comes from the VADER lexicon (shipped in the vaderSentiment package); the label from emotion cue words
weighed with that valence. The voice (acoustic.py) and the fusion of both (fusion.py) come on top of this.
"""

from __future__ import annotations

import time

import numpy as np
from optimus_voice.common.words import words
from optimus_voice.feeling.emotions import LABELS, EmotionEstimate, estimate_from_scores

CUES = {
    "happy": "happy glad great wonderful awesome love lovely amazing fantastic excellent yay joy excited fun nice "
             "delighted thrilled perfect beautiful",
    "sad": "sad unhappy lonely alone miss cry crying depressed down tired lost sorry hurt grief upset heartbroken",
    "angry": "angry mad furious hate annoyed annoying stupid ridiculous rage irritated sick fed outraged",
    "fearful": "afraid scared fear frightened worried nervous anxious terrified panic dangerous help",
    "disgust": "disgusting gross yuck nasty revolting awful horrible vile",
    "surprised": "wow whoa surprised unbelievable incredible really seriously suddenly unexpected omg",
}
_CUE_WORDS = {w: label for label, cue_words in CUES.items() for w in cue_words.split()}


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
        for token in words(text):
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
        return estimate_from_scores(probs, t0)  # valence from the scores: it agrees with the label
