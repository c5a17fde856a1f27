"""Which intent did the user mean? Nearest example phrasings by sentence embedding (MiniLM), or by words.

Each intent's examples (and the `unknown` examples of things the robot cannot do) are embedded once. A query's
score for an intent is the mean of its two most similar examples of that intent, which is steadier than the single
nearest one. The best intent wins if its score clears the threshold and it is not `unknown`.
If the embedding model is missing, a bag-of-words matcher takes over (worse, but the robot still answers).

Sentence embeddings place antonyms close together ("speak faster" and "speak slower" are 0.8 similar), so the
direction of an adjustment (faster/slower, louder/softer) is read from the words: the direction word itself, turned
around when the user complains about it ("you're too fast", "don't shout" -> the other way).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

import numpy as np
from optimus_voice.common.words import words

UNKNOWN = "unknown"


@dataclass
class IntentMatch:
    intent: str
    confidence: float     # the winning intent's score (cosine similarity)
    runner_up: str
    runner_up_score: float


# Pairs of opposite intents and the words that point to each one.
OPPOSITES = (
    ("faster", "slower", {"fast", "faster", "quick", "quicker", "quickly", "speed", "hurry", "pace", "rush"},
     {"slow", "slower", "slowly", "slowness"}),
    ("louder", "softer", {"loud", "louder", "loudly", "up", "raise", "higher", "increase", "hear", "shout", "shouting",
                          "yell", "mumble", "mumbling", "quietly"},
     {"soft", "softer", "softly", "quiet", "quieter", "down", "lower", "decrease", "whisper", "gently"}),
)
_COMPLAINT = re.compile(r"\b(too|so|very|not|don't|stop)\b")
# Words that name the problem, not the wish: "I can't hear you" / "you mumble" want louder, "you shout" wants softer.
_PROBLEM_WORDS = {"hear": "louder", "mumble": "louder", "mumbling": "louder", "quietly": "louder",
                  "shout": "softer", "shouting": "softer", "yell": "softer"}


def direction(text: str, first: str, second: str, first_words: set[str], second_words: set[str]) -> str | None:
    """Which of two opposite intents `text` asks for, from its words; None when the words do not say."""
    said = words(text)
    for w in said:
        if w in _PROBLEM_WORDS and _PROBLEM_WORDS[w] in (first, second):
            return _PROBLEM_WORDS[w]
    hits = [(i, first if w in first_words else second) for i, w in enumerate(said)
            if w in first_words or w in second_words]
    if not hits:
        return None
    index, wanted = hits[-1]
    if _COMPLAINT.search(" ".join(said[max(0, index - 3):index])):
        return second if wanted == first else first
    return wanted


def resolve_opposites(text: str, intent: str) -> str:
    for first, second, first_words, second_words in OPPOSITES:
        if intent in (first, second):
            return direction(text, first, second, first_words, second_words) or intent
    return intent


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

    def match(self, text: str) -> IntentMatch:
        sims = self.vectors @ self.embedder.embed([text])[0]
        scores = []
        for i in range(len(self.names)):
            own = np.sort(sims[self.labels == i])[::-1][:self.top_k]
            scores.append(float(own.mean()) if len(own) else -1.0)
        order = np.argsort(scores)[::-1]
        best, second = order[0], order[1] if len(order) > 1 else order[0]
        intent = resolve_opposites(text, self.names[best]) if scores[best] >= self.threshold else UNKNOWN
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
        intent = resolve_opposites(text, best) if best_score >= self.threshold else UNKNOWN
        return IntentMatch(intent, best_score, second, second_score)
