"""Text normalisation and word error rate, the way the benchmarks compare transcripts (no rclpy)."""

from __future__ import annotations

import re

from optimus_voice.common.numbers import digits_as_words
from optimus_voice.tools.spellings import AMERICAN

_ABBREVIATIONS = {"mr": "mister", "mrs": "missus", "dr": "doctor", "st": "saint", "ok": "okay", "vs": "versus"}
_SPELLINGS = {"alright": "all right", "percent": "per cent"}


def normalize(text: str, us_spelling: bool = False) -> list[str]:
    """Lower case, no punctuation, digits as words, common abbreviations spelled out: a list of words. With
    `us_spelling`, British spellings become American ("metres": "meters"), as the Open ASR leaderboard counts."""
    text = text.lower().replace("&", " and ").replace("%", " percent ")
    text = digits_as_words(text)
    text = re.sub(r"[-‐–—_/]", " ", text)
    text = re.sub(r"[^\w\s']", " ", text)
    words = []
    for word in text.split():
        word = word.strip("'")
        word = _ABBREVIATIONS.get(word, word)
        words += _SPELLINGS.get(word, word).split()
    return [AMERICAN.get(w, w) if us_spelling else w for w in words if w]


def edit_distance(ref: list[str], hyp: list[str]) -> int:
    """Word-level Levenshtein distance (substitutions, insertions, deletions)."""
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1]


def wer(references: list[str], hypotheses: list[str], us_spelling: bool = False) -> float:
    """Corpus WER: total word errors over total reference words, after normalize() on both sides."""
    errors = words = 0
    for ref, hyp in zip(references, hypotheses, strict=True):
        r = normalize(ref, us_spelling)
        errors += edit_distance(r, normalize(hyp, us_spelling))
        words += len(r)
    return errors / max(1, words)
