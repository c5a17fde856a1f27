"""Dialogue: the embedded reply policy (no rclpy).

Intents are matched by sentence embeddings (all-MiniLM-L6-v2) against the example phrasings in
config/intents.yaml; the user's emotion and mood choose the reply variant and the robot's expression and speaking
style. Actions are a fixed whitelist: nothing the user says can trigger anything else. Turn-taking lives in
turn_taking.py.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import yaml
from optimus_voice.common.words import cap
from optimus_voice.deciding.intents import UNKNOWN, EmbeddingMatcher, WordMatcher

ACTIONS = ("stop", "volume_up", "volume_down", "rate_up", "rate_down")
MAX_REPLY_CHARS = 300
MOOD_THRESHOLD = 0.35   # a neutral turn of a user whose mood is this far from 0 is answered by the mood

# Emotion of the user -> (expression, speaking style) of the robot's reply: comfort, calm, share joy.
EMPATHY = {
    "sad": ("concerned", "calm"), "angry": ("calm", "calm"), "fearful": ("calm", "calm"),
    "disgust": ("concerned", "calm"),
    "happy": ("happy", "happy"), "surprised": ("happy", "excited"),
}
log = logging.getLogger(__name__)


@dataclass
class Reply:
    text: str
    intent: str
    confidence: float
    expression: str
    style: str
    action: str = ""
    decide_ms: float = 0.0
    emotion: str = "neutral"   # the emotion the reply answers (the turn's, or the mood's)


class Policy:
    """Embedded intent policy with emotion-aware replies."""

    def __init__(self, intents_path: str | Path, threshold: float = 0.40, embedder=None,
                 use_embeddings: bool = True) -> None:
        with open(intents_path, encoding="utf-8") as f:
            spec = yaml.safe_load(f)
        self.intents = spec["intents"]
        self.unknown = spec["unknown"]
        for name, intent in self.intents.items():
            action = intent.get("action", "")
            if action and action not in ACTIONS:
                raise ValueError(f"intent {name}: action {action!r} is not in the whitelist {ACTIONS}")
        examples = {name: list(i["examples"]) for name, i in self.intents.items()}
        if self.unknown.get("examples"):
            examples[UNKNOWN] = list(self.unknown["examples"])
        self.matcher = self._matcher(examples, threshold, embedder, use_embeddings)
        self._cycles: dict[tuple[str, str], itertools.cycle] = {}
        self.last_spoken = ""   # what the robot actually said last (from speech progress), for "repeat that"

    @staticmethod
    def _matcher(examples, threshold, embedder, use_embeddings):
        if not use_embeddings:
            return WordMatcher(examples, threshold)
        try:
            if embedder is None:
                from optimus_voice.deciding.embedder import SentenceEmbedder

                embedder = SentenceEmbedder()
            return EmbeddingMatcher(examples, embedder, threshold)
        except (OSError, ImportError) as exc:  # a missing model or package: answer with words, and say so
            log.error("sentence embeddings unavailable (%s); matching intents by words", exc)
            return WordMatcher(examples, 0.5)

    def _next(self, intent: str, key: str, replies: list[str]) -> str:
        cycle = self._cycles.setdefault((intent, key), itertools.cycle(replies))
        return next(cycle)

    def respond(self, text: str, emotion: str = "neutral", mood: float = 0.0,
                now: dt.datetime | None = None) -> Reply:
        t0 = time.perf_counter()
        match = self.matcher.match(text)
        spec = self.intents.get(match.intent, self.unknown)
        if emotion == "neutral" and abs(mood) >= MOOD_THRESHOLD:
            emotion = "sad" if mood < 0 else "happy"
        variants = spec.get("by_emotion", {}).get(emotion)
        template = self._next(match.intent, emotion if variants else "", variants or spec["replies"])
        now = now or dt.datetime.now()
        reply = cap(template.format(time=now.strftime("%H:%M"), date=now.strftime("%A %B %d"),
                                    last_reply=self.last_spoken or "nothing yet"), MAX_REPLY_CHARS)
        expression, style = EMPATHY.get(emotion, (spec.get("expression", "neutral"), "neutral"))
        return Reply(reply, match.intent, match.confidence, expression, style, spec.get("action", ""),
                     (time.perf_counter() - t0) * 1000, emotion)

    def spoken(self, text: str) -> None:
        """Record what the robot actually said (the played words, not the planned reply)."""
        if text.strip():
            self.last_spoken = text.strip()
