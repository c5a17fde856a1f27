"""Which intent did the user mean? Nearest example phrasings by sentence embedding (MiniLM), or by words.

Each intent's examples (and the `unknown` examples of things the robot cannot do) are embedded once. A query's
score for an intent is the mean of its two most similar examples of that intent, which is steadier than the single
nearest one. The best intent wins if its score clears the threshold and it is not `unknown`.
If the embedding model is missing, a bag-of-words matcher takes over (worse, but the robot still answers).

Sentence embeddings place antonyms close together, so for an adjustment (louder/softer, faster/slower) the match
only says which; the policy reads the way from the words (adjustments.py).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

import numpy as np
from optimus_voice.common.words import words

UNKNOWN = "unknown"
RECENT_KEPT = 4  # embeddings of the last texts matched


@dataclass
class IntentMatch:
    intent: str
    confidence: float     # the winning intent's score (cosine similarity)
    runner_up: str
    runner_up_score: float


class EmbeddingMatcher:
    backend = "minilm"

    def __init__(self, examples: dict[str, list[str]], embedder, threshold: float, top_k: int = 2) -> None:
        self.embedder = embedder
        self.threshold = threshold
        self.top_k = top_k
        self.names = list(examples)
        texts = [t for name in self.names for t in examples[name]]
        self.labels = np.array([i for i, name in enumerate(self.names) for _ in examples[name]])
        self.vectors = embedder.embed(texts)
        self._recent: dict[str, np.ndarray] = {}  # a prepared reply and its turn's final read the same text

    def _embed(self, text: str) -> np.ndarray:
        if text not in self._recent:
            if len(self._recent) >= RECENT_KEPT:
                del self._recent[next(iter(self._recent))]
            self._recent[text] = self.embedder.embed([text])[0]
        return self._recent[text]

    def match(self, text: str) -> IntentMatch:
        sims = self.vectors @ self._embed(text)
        scores = []
        for i in range(len(self.names)):
            own = np.sort(sims[self.labels == i])[::-1][:self.top_k]
            scores.append(float(own.mean()) if len(own) else -1.0)
        order = np.argsort(scores)[::-1]
        best, second = order[0], order[1] if len(order) > 1 else order[0]
        intent = self.names[best] if scores[best] >= self.threshold else UNKNOWN
        return IntentMatch(intent, scores[best], self.names[second], scores[second])


def _bag(text: str) -> Counter[str]:
    return Counter(words(text))


def _cosine(a: Counter[str], b: Counter[str]) -> float:
    dot = sum(v * b[k] for k, v in a.items())
    norm = math.sqrt(sum(v * v for v in a.values())) * math.sqrt(sum(v * v for v in b.values()))
    return dot / norm if norm else 0.0


class WordMatcher:
    """Fallback without the embedding model: cosine similarity of word counts to the nearest example."""

    backend = "words"

    def __init__(self, examples: dict[str, list[str]], threshold: float) -> None:
        self.threshold = threshold
        self.examples = [(name, _bag(t)) for name, texts in examples.items() for t in texts]

    def match(self, text: str) -> IntentMatch:
        bag = _bag(text)
        scored = sorted(((_cosine(bag, ex), name) for name, ex in self.examples), reverse=True)
        best_score, best = scored[0] if scored else (0.0, UNKNOWN)
        second_score, second = next(((s, n) for s, n in scored if n != best), (0.0, UNKNOWN))
        intent = best if best_score >= self.threshold else UNKNOWN
        return IntentMatch(intent, best_score, second, second_score)
