"""How the user wants the robot to speak, read from their words: which way (louder or softer, faster or slower),
how much ("a bit", "a lot"), or a volume level ("volume to five"). No rclpy.

Sentence embeddings place antonyms close together ("speak faster" and "speak slower" are 0.8 similar), so the
matcher only finds the family (volume or rate) and the words decide the way. A word either names the wish
("louder", "down", "slower"), or how the robot sounds ("loud", "quietly", "slow"), or a problem ("I can't hear",
"you're shouting", "you're rushing"). A sound word is a wish ("speak quietly", "more slowly") unless the user
complains about it ("too loud", "so quiet", "you're slow", "less fast"): then the wish is the other way; "not loud
enough" wants more of it. A problem word asks for its fix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from optimus_voice.common.words import words

WISH, SOUND, PROBLEM = "wish", "sound", "problem"
# word -> (intent it points to, kind)
CUES: dict[str, tuple[str, str]] = {
    **dict.fromkeys(("louder", "up", "raise", "higher", "increase", "boost", "amplify"), ("louder", WISH)),
    **dict.fromkeys(("loud", "loudly", "noisy", "audible"), ("louder", SOUND)),
    **dict.fromkeys(("hear", "mumble", "mumbling", "mumbles"), ("louder", PROBLEM)),
    **dict.fromkeys(("softer", "quieter", "lower", "down", "decrease", "reduce", "whisper"), ("softer", WISH)),
    **dict.fromkeys(("soft", "softly", "quiet", "quietly", "gently", "low"), ("softer", SOUND)),
    **dict.fromkeys(("shout", "shouting", "yell", "yelling", "scream", "screaming"), ("softer", PROBLEM)),
    **dict.fromkeys(("faster", "quicker", "hurry", "speed"), ("faster", WISH)),
    **dict.fromkeys(("fast", "quick", "quickly", "rapidly"), ("faster", SOUND)),
    **dict.fromkeys(("forever", "dragging"), ("faster", PROBLEM)),
    **dict.fromkeys(("slower",), ("slower", WISH)),
    **dict.fromkeys(("slow", "slowly"), ("slower", SOUND)),
    **dict.fromkeys(("rush", "rushing", "hurried"), ("slower", PROBLEM)),
}
OPPOSITE = {"louder": "softer", "softer": "louder", "faster": "slower", "slower": "faster"}
FAMILY = {"louder": "volume", "softer": "volume", "faster": "rate", "slower": "rate"}
COMPLAINT = {"too", "so", "very", "really", "way", "that", "less", "overly"}
ABOUT_YOU = {"you", "you're", "youre", "your"}
REQUEST = {"could", "can", "would", "will", "please", "can't", "couldn't"}
SMALL = {"bit", "little", "slightly", "tad"}
LARGE = {"lot", "much", "way", "lots", "far", "loads"}
NUMBERS = {w: i for i, w in enumerate("zero one two three four five six seven eight nine ten".split())}  # noqa: SIM905
_LEVEL = re.compile(r"\b(?:volume|loudness|level)\b(?:\s+\w+){0,3}?\s+(?:to|at|on)?\s*(\d+|"
                    + "|".join(NUMBERS) + r")\b")


@dataclass
class Adjustment:
    intent: str          # louder, softer, faster, slower, or volume_set
    amount: float = 1.0  # steps (0.5 a bit, 2 a lot), or the volume level 0-10 for volume_set


def _vote(said: list[str], i: int) -> str | None:
    """The intent the cue word said[i] asks for, in its context."""
    intent, kind = CUES[said[i]]
    before = said[max(0, i - 3):i]
    if kind == WISH:
        return OPPOSITE[intent] if {"don't", "not", "no"} & set(before[-1:]) else intent
    if kind == PROBLEM:
        return intent
    if "enough" in said[i + 1:i + 2] and "not" in before:  # "not loud enough"
        return intent
    if "more" in before[-1:]:  # "more quietly"
        return intent
    if COMPLAINT & set(before):  # "too loud", "so quiet", "less fast"
        return OPPOSITE[intent]
    if ABOUT_YOU & set(said[:i]) and not REQUEST & set(said[:i]):  # "you're slow", "your voice is low"
        return OPPOSITE[intent]
    return intent


# Words that on their own say the user is talking about how the robot speaks ("speak more quietly", "stop yelling");
# the others ("quiet", "up", "slow") also mean other things ("be quiet", "hurry up") unless said of the robot.
WEAK = {"quiet", "soft", "up", "down", "low", "fast", "slow", "quick", "raise", "higher", "lower", "increase",
        "decrease", "reduce", "boost", "speed", "hurry", "hear"}


def family_in(text: str) -> str | None:
    """The family ('volume' or 'rate') the words clearly talk about, whatever intent the sentence is nearest to:
    a word only about speaking ("quietly", "louder", "shouting"), or a weaker one said of the robot ("you're quiet",
    "so slow"). None when neither or both."""
    said = words(text)
    found = set()
    for i, w in enumerate(said):
        if w not in CUES:
            continue
        said_of_robot = (ABOUT_YOU | COMPLAINT) & set(said[max(0, i - 3):i])
        if w not in WEAK or said_of_robot:
            found.add(FAMILY[CUES[w][0]])
    return found.pop() if len(found) == 1 else None


def read(text: str, family: str) -> Adjustment | None:
    """The adjustment of `family` ('volume' or 'rate') that `text` asks for; None when its words do not say."""
    said = words(text)
    if family == "volume" and (level := _LEVEL.search(text.lower())):
        value = level.group(1)
        return Adjustment("volume_set", float(min(10, int(value) if value.isdigit() else NUMBERS[value])))
    votes = [v for i, w in enumerate(said) if w in CUES and FAMILY[CUES[w][0]] == family
             if (v := _vote(said, i)) is not None]
    if not votes:
        return None
    tally = {intent: votes.count(intent) for intent in set(votes)}
    best = max(tally.values())
    intent = next(v for v in reversed(votes) if tally[v] == best)  # a tie: the last word decides
    amount = 0.5 if SMALL & set(said) else 2.0 if LARGE & set(said) else 1.0
    return Adjustment(intent, amount)
