"""Dialogue: the embedded reply policy (no rclpy).

Intents are matched by sentence embeddings (all-MiniLM-L6-v2) against the example phrasings in
config/intents.yaml; the user's emotion and mood choose the reply variant and the robot's expression and speaking
style. Beyond fixed replies: the user's name once they give it ("I'm Anna", used in later replies), what they said
before ("what did I just ask?"), and how much an adjustment should be ("a lot louder", "volume to five";
adjustments.py). Actions are a fixed whitelist: nothing the user says can trigger anything else. Turn-taking lives
in turn_taking.py.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from optimus_voice.common.words import cap, words
from optimus_voice.deciding import adjustments
from optimus_voice.deciding.adjustments import FAMILY
from optimus_voice.deciding.intents import UNKNOWN, EmbeddingMatcher, IntentMatch, WordMatcher

ACTIONS = ("stop", "volume_up", "volume_down", "volume_set", "rate_up", "rate_down")
MAX_REPLY_CHARS = 300
MOOD_THRESHOLD = 0.35
HEARD_KEPT = 6   # a neutral turn of a user whose mood is this far from 0 is answered by the mood

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
    amount: float = 1.0        # of the action: steps (0.5 a bit, 2 a lot), or the level of volume_set


# "My name is Anna", "call me Sam", "I'm Tom": a capitalised word after the introduction (the recognizer writes
# names with a capital), not one of the words people say after "I'm".
_INTRODUCTION = re.compile(r"\b(?i:my name is|my name's|call me|i'm|i am|this is|it's)\b")
_NAME = re.compile(r"\b(?i:my name is|my name's|call me|i'm|i am|this is|it's)\s+([A-Z][a-z'-]+)")
NOT_NAMES = {"Fine", "Good", "Okay", "Ok", "Tired", "Sorry", "Here", "Back", "Not", "So", "Very", "Just", "Sad",
             "Happy", "Great", "Done", "Ready", "Optimus", "The", "A", "An", "Me", "Your", "My", "I"}


def name_in(text: str) -> str | None:
    """The name the user gives in `text`, if any."""
    return next((m.group(1) for m in _NAME.finditer(text) if m.group(1) not in NOT_NAMES), None)


def fixed_replies(intents_path: str | Path) -> list[tuple[str, str]]:
    """(reply, speaking style) of every reply in the intents file with nothing to fill in, the clarifications first
    (said most): what the TTS can synthesize before anyone speaks. By-emotion variants in the style that emotion is
    answered in; the others in the neutral style, and the clarifications also in every style a user's emotion or
    mood may ask for (a sad user's clarification is said calmly). A file that is not YAML is a ValueError."""
    with open(intents_path, encoding="utf-8") as f:
        try:
            spec = yaml.safe_load(f)
        except yaml.YAMLError as exc:
            raise ValueError(f"{intents_path} is not YAML: {exc}") from exc
    styles = dict.fromkeys(["neutral", *(style for _, style in EMPATHY.values())])
    found = [(reply, style) for style in styles for reply in spec["unknown"].get("replies", [])]
    for intent in [spec["unknown"], *spec["intents"].values()]:
        found += [(reply, "neutral") for reply in intent.get("replies", [])]
        for emotion, replies in (intent.get("by_emotion") or {}).items():
            found += [(reply, EMPATHY.get(emotion, ("", "neutral"))[1]) for reply in replies]
    return list(dict.fromkeys((r, style) for r, style in found if "{" not in r))


@dataclass
class Person:
    """One voice of the conversation, as the policy knows it."""

    name: str = ""  # once they said it
    heard: deque[str] = field(default_factory=lambda: deque(maxlen=HEARD_KEPT))  # for "what did I just ask?"


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
        examples = {name: list(i.get("examples", [])) for name, i in self.intents.items()}
        if self.unknown.get("examples"):
            examples[UNKNOWN] = list(self.unknown["examples"])
        self.matcher = self._matcher(examples, threshold, embedder, use_embeddings)
        self._turns: dict[tuple[str, str], int] = {}  # replies given per (intent, variant): they take turns
        self.last_spoken = ""   # what the robot actually said last (from speech progress), for "repeat that"
        self.people: dict[str, Person] = {}  # per voice id ("" for turns of no known voice)
        self._last_voice = ""

    def person(self, voice_id: str = "") -> Person:
        """What the robot knows of one voice: their name and what they said. Another voice is another person."""
        return self.people.setdefault(voice_id, Person())

    @property
    def name(self) -> str:
        """The name of the voice heard last (of the unknown voice before any)."""
        return self.person(self._last_voice).name

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

    def _next(self, intent: str, key: str, replies: list[str], commit: bool) -> str:
        given = self._turns.get((intent, key), 0)
        if commit:
            self._turns[(intent, key)] = given + 1
        return replies[given % len(replies)]

    def _intent(self, text: str) -> tuple[str, float, IntentMatch]:
        """(intent, amount of an adjustment, the matcher's answer) for `text`, changing nothing."""
        match = self.matcher.match(text)
        intent, amount = match.intent, 1.0
        # The words say which family when they clearly can ("stop yelling" is about the volume, not stopping; "you
        # talk so softly" about the volume, not the rate), and which way and how much.
        family = adjustments.family_in(text) or FAMILY.get(intent)
        if family and (adjustment := adjustments.read(text, family)) is not None:
            intent, amount = adjustment.intent, adjustment.amount
        return self._who(intent, text), amount, match

    def classify(self, text: str) -> str:
        """The intent of `text`, without answering it (nothing is remembered)."""
        return self._intent(text)[0]

    def action_of(self, text: str) -> str:
        """The action (stop, volume, rate ...) that `text` asks for, "" for none (nothing is remembered)."""
        return self.intents.get(self.classify(text), {}).get("action", "")

    def respond(self, text: str, emotion: str = "neutral", mood: float = 0.0,
                now: dt.datetime | None = None, voice_id: str = "", commit: bool = True) -> Reply:
        """The reply to `text`. With commit=False it is only a preview (a reply prepared while the turn may still
        go on): nothing is remembered, and the same call with commit=True gives the same reply."""
        t0 = time.perf_counter()
        intent, amount, match = self._intent(text)
        person = self.person(voice_id)
        name = person.name
        given = name_in(text)
        if intent == "my_name" and given:  # "Hi, my name is Zoe" sounds like "what's my name" to embeddings
            intent = "introduce"
        if intent == "introduce" and given:
            name = given
        elif intent == "introduce":  # an introduction whose name the robot could not make out, or none at all
            intent = "ask_name" if _INTRODUCTION.search(text) else UNKNOWN
        elif intent == "my_name" and not name:
            intent = "no_name"
        spec = self.intents.get(intent, self.unknown)
        if emotion == "neutral" and abs(mood) >= MOOD_THRESHOLD:
            emotion = "sad" if mood < 0 else "happy"
        variants = spec.get("by_emotion", {}).get(emotion)
        key = emotion if variants else ""
        replies = variants or spec["replies"]
        if name and spec.get("replies_named"):
            key, replies = f"{key}:named", spec["replies_named"]
        template = self._next(intent, key, replies, commit)
        now = now or dt.datetime.now()
        # Written as people write them ("7:05 PM", "Monday, December 7"); the TTS says them in words.
        clock = f"{now.hour % 12 or 12}:{now:%M} {'AM' if now.hour < 12 else 'PM'}"
        reply = cap(template.format(time=clock, date=f"{now:%A, %B} {now.day}",
                                    last_reply=self.last_spoken or "nothing yet", name=name or "friend",
                                    last_user=person.heard[-1] if person.heard else "nothing yet", level=f"{amount:g}"),
                    MAX_REPLY_CHARS)
        if commit:
            self._last_voice = voice_id
            person.name = name
            person.heard.append(text.strip())
        expression, style = EMPATHY.get(emotion, (spec.get("expression", "neutral"), "neutral"))
        return Reply(reply, intent, match.confidence, expression, style, spec.get("action", ""),
                     (time.perf_counter() - t0) * 1000, emotion, amount)

    @staticmethod
    def _who(intent: str, text: str) -> str:
        """Questions about the user and about the robot sound alike to embeddings ("what's my name" / "what's your
        name", "what did I say" / "what did you say"): the pronouns decide."""
        about_me = bool({"i", "my", "me", "i'm"} & set(words(text)))
        if intent == "my_name" and not about_me:
            return "identity"
        if intent == "recall" and not about_me:
            return "repeat"
        return intent

    def spoken(self, text: str) -> None:
        """Record what the robot actually said (the played words, not the planned reply)."""
        if text.strip():
            self.last_spoken = text.strip()
