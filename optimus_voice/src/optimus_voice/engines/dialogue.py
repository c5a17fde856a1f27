"""Dialogue: the embedded reply policy and the turn-taking state machine (no rclpy).

The policy matches intents by bag-of-words cosine similarity to the example phrasings in config/intents.yaml;
issue 6 replaces the matcher with sentence embeddings. Actions are a fixed whitelist: nothing the user says can
trigger anything else.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import re
import time
from collections import Counter
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path

import yaml

ACTIONS = ("stop", "volume_up", "volume_down", "rate_up", "rate_down")
MAX_REPLY_CHARS = 300
_TOKEN = re.compile(r"[a-z']+")

# Emotion of the user -> (expression, speaking style) of the robot's reply: comfort, calm, share joy.
EMPATHY = {
    "sad": ("concerned", "calm"), "angry": ("calm", "calm"), "fearful": ("calm", "calm"),
    "happy": ("happy", "happy"), "surprised": ("happy", "excited"),
}


@dataclass
class Reply:
    text: str
    intent: str
    confidence: float
    expression: str
    style: str
    action: str = ""
    decide_ms: float = 0.0


def _bag(text: str) -> Counter[str]:
    return Counter(_TOKEN.findall(text.lower()))


def _cosine(a: Counter[str], b: Counter[str]) -> float:
    dot = sum(v * b[k] for k, v in a.items())
    norm = math.sqrt(sum(v * v for v in a.values())) * math.sqrt(sum(v * v for v in b.values()))
    return dot / norm if norm else 0.0


class Policy:
    """Embedded intent policy with emotion-aware replies."""

    def __init__(self, intents_path: str | Path, threshold: float = 0.5) -> None:
        with open(intents_path, encoding="utf-8") as f:
            spec = yaml.safe_load(f)
        self.intents = spec["intents"]
        self.unknown = spec["unknown"]
        self.threshold = threshold
        for name, intent in self.intents.items():
            action = intent.get("action", "")
            if action and action not in ACTIONS:
                raise ValueError(f"intent {name}: action {action!r} is not in the whitelist {ACTIONS}")
        self._examples = [(name, _bag(ex)) for name, i in self.intents.items() for ex in i["examples"]]
        self._cycle = {name: itertools.cycle(i["replies"]) for name, i in self.intents.items()}
        self.last_reply = ""

    def classify(self, text: str) -> tuple[str, float]:
        bag = _bag(text)
        best, score = "unknown", 0.0
        for name, ex in self._examples:
            s = _cosine(bag, ex)
            if s > score:
                best, score = name, s
        return (best, score) if score >= self.threshold else ("unknown", score)

    def respond(self, text: str, emotion: str = "neutral", now: dt.datetime | None = None) -> Reply:
        t0 = time.perf_counter()
        intent, confidence = self.classify(text)
        spec = self.intents.get(intent, self.unknown)
        variants = spec.get("by_emotion", {}).get(emotion)
        template = variants[0] if variants else (next(self._cycle[intent]) if intent in self._cycle
                                                 else spec["replies"][0])
        now = now or dt.datetime.now()
        reply = template.format(time=now.strftime("%H:%M"), date=now.strftime("%A %B %d"),
                                last_reply=self.last_reply or "nothing yet")[:MAX_REPLY_CHARS]
        expression, style = EMPATHY.get(emotion, (spec.get("expression", "neutral"), "neutral"))
        if intent != "repeat":
            self.last_reply = reply
        return Reply(reply, intent, confidence, expression, style, spec.get("action", ""),
                     (time.perf_counter() - t0) * 1000)


class State(IntEnum):
    """Same values as optimus_voice_msgs/DialogueState."""

    IDLE = 0
    LISTENING = 1
    THINKING = 2
    SPEAKING = 3


class TurnTaking:
    """Who has the floor. Turn ids order everything: work for a turn older than the latest is stale."""

    def __init__(self) -> None:
        self.state = State.IDLE
        self.turn_id = 0          # latest user turn seen
        self.speaking_turn = 0    # turn whose reply is being spoken

    def user_started(self, turn_id: int) -> bool:
        """The user started speaking. Returns True if the robot is speaking and must stop (barge-in)."""
        barge_in = self.state == State.SPEAKING
        self.turn_id = max(self.turn_id, turn_id)
        self.state = State.LISTENING
        return barge_in

    def user_finished(self, turn_id: int) -> bool:
        """A final transcript arrived. Returns True if this turn is current and should be answered."""
        if turn_id < self.turn_id:
            return False
        self.turn_id = turn_id
        self.state = State.THINKING
        return True

    def is_stale(self, turn_id: int) -> bool:
        return turn_id < self.turn_id

    def speech_started(self, turn_id: int) -> None:
        if not self.is_stale(turn_id) and self.state != State.LISTENING:
            self.state = State.SPEAKING
            self.speaking_turn = turn_id

    def speech_ended(self, turn_id: int) -> None:
        if turn_id == self.speaking_turn and self.state == State.SPEAKING:
            self.state = State.IDLE

    def nothing_to_say(self, turn_id: int) -> None:
        if turn_id == self.turn_id and self.state == State.THINKING:
            self.state = State.IDLE
