"""Diarization error rate, as the data README defines it: (missed + false alarm + confusion) / reference speech.

Overlap included (a frame with two reference speakers counts twice), no collar, one optimal speaker mapping per
file, scored on 10 ms frames inside the scored region.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from itertools import permutations
from pathlib import Path

import numpy as np

FRAME_S = 0.01


def read_rttm(path: str | Path) -> dict[str, list[tuple[float, float, str]]]:
    """uri -> [(start, end, speaker)] (UTF-8: AMI has a speaker named MÉO069)."""
    turns: dict[str, list[tuple[float, float, str]]] = defaultdict(list)
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) >= 8 and parts[0] == "SPEAKER":
            start, dur = float(parts[3]), float(parts[4])
            turns[parts[1]].append((start, start + dur, parts[7]))
    return dict(turns)


def to_frames(turns: list[tuple[float, float, str]], n_frames: int) -> tuple[np.ndarray, list[str]]:
    names = sorted({s for _, _, s in turns})
    out = np.zeros((n_frames, len(names)), bool)
    for start, end, speaker in turns:
        out[round(start / FRAME_S):round(end / FRAME_S), names.index(speaker)] = True
    return out, names


@dataclass
class DerParts:
    reference_s: float
    missed_s: float
    false_alarm_s: float
    confusion_s: float

    @property
    def der(self) -> float:
        return (self.missed_s + self.false_alarm_s + self.confusion_s) / max(self.reference_s, 1e-9)

    def __add__(self, other: DerParts) -> DerParts:
        return DerParts(self.reference_s + other.reference_s, self.missed_s + other.missed_s,
                        self.false_alarm_s + other.false_alarm_s, self.confusion_s + other.confusion_s)


def best_mapping(ref: np.ndarray, hyp: np.ndarray) -> float:
    """Frames matched under the mapping of reference to hypothesis speakers that matches most."""
    co = ref.T.astype(np.int64) @ hyp.astype(np.int64)  # (n_ref, n_hyp) frames spoken by both
    n_ref, n_hyp = co.shape
    if n_ref == 0 or n_hyp == 0:
        return 0.0
    if n_ref <= n_hyp:
        return float(max(sum(co[i, p[i]] for i in range(n_ref)) for p in permutations(range(n_hyp), n_ref)))
    return float(max(sum(co[p[j], j] for j in range(n_hyp)) for p in permutations(range(n_ref), n_hyp)))


def score(reference: list[tuple[float, float, str]], hypothesis: list[tuple[float, float, str]],
          region: tuple[float, float]) -> DerParts:
    n = round(region[1] / FRAME_S)
    a = round(region[0] / FRAME_S)
    ref, _ = to_frames(reference, n)
    hyp, _ = to_frames(hypothesis, n)
    ref, hyp = ref[a:], hyp[a:]
    n_ref, n_hyp = ref.sum(axis=1), hyp.sum(axis=1)
    matched = best_mapping(ref, hyp)
    missed = np.maximum(n_ref - n_hyp, 0).sum()
    false_alarm = np.maximum(n_hyp - n_ref, 0).sum()
    confusion = np.minimum(n_ref, n_hyp).sum() - matched
    return DerParts(float(n_ref.sum()) * FRAME_S, float(missed) * FRAME_S, float(false_alarm) * FRAME_S,
                    float(confusion) * FRAME_S)
