"""Was the user's new turn the rest of their last one? (no rclpy)

The end of a turn is a guess: a pause inside a sentence can sound finished, to the words and to the voice
(BENCHMARKS.md, the end of the turn), and the robot then answers half a sentence. A person who goes on after such
a pause starts again before they could have heard the answer: the robot's reply had not begun to play, or had
played for less than a reaction time, when their voice came back. That turn is then answered as the rest of the
one before: the reply is to both, as one sentence, and the answer to the first half, stopped by the barge-in, is
forgotten. A turn that came after the user heard the robot is a reply to it, and stands alone.

Never joined: turns of two voices; a first half whose reply acted (stop, volume, rate: done, not to be done
twice); a new turn that asks for such an action itself ("stop"); turns further apart than `within_s`.
Times are capture times in seconds (message stamps), so a replayed bag gives the same answers.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

KEPT = 8  # turns remembered: only the last answered one can be continued


@dataclass
class _Turn:
    onset_s: float | None = None       # when the VAD heard its speech begin
    ended_s: float | None = None       # when its speech ended
    text: str = ""                     # what it is answered as ("" until its final was answered)
    voice_id: str = ""
    reply_from_s: float | None = None  # when the robot's reply to it began to play
    acted: bool = False                # its reply was an action


class Continuations:
    """Which finished turn goes on from which: `whole()` gives the text a turn is to be answered as."""

    def __init__(self, within_s: float = 1.5, reaction_s: float = 0.25) -> None:
        self.within_s = within_s      # 0: never join
        self.reaction_s = reaction_s  # how soon after the robot's voice begins a person can be answering it
        self._turns: dict[int, _Turn] = {}
        self._joined: dict[int, int] = {}  # turn -> the turn it goes on from

    def _turn(self, turn_id: int) -> _Turn:
        if turn_id not in self._turns:
            self._turns[turn_id] = _Turn()
            for old in sorted(self._turns)[:-KEPT]:
                del self._turns[old]
                for joined in [j for j, b in self._joined.items() if old in (j, b)]:
                    del self._joined[joined]
        return self._turns[turn_id]

    def started(self, turn_id: int, onset_s: float | None) -> None:
        self._turn(turn_id).onset_s = onset_s

    def ended(self, turn_id: int, ended_s: float | None) -> None:
        self._turn(turn_id).ended_s = ended_s

    def answered(self, turn_id: int, text: str, voice_id: str) -> None:
        """The dialogue answers this turn as `text` (what `whole` gave)."""
        t = self._turn(turn_id)
        t.text, t.voice_id = text, voice_id

    def reply_started(self, turn_id: int, at_s: float | None) -> None:
        """The reply to `turn_id` began to play at `at_s`; without a stamp (None) it counts as heard long ago."""
        if (t := self._turns.get(turn_id)) is not None and t.reply_from_s is None:
            t.reply_from_s = at_s if at_s is not None else -math.inf

    def acted(self, turn_id: int) -> None:
        if (t := self._turns.get(turn_id)) is not None:
            t.acted = True

    def joined_to(self, turn_id: int) -> int | None:
        """The turn that `turn_id` goes on from, if it does."""
        return self._joined.get(turn_id)

    def is_continued(self, turn_id: int) -> bool:
        """Whether a later turn goes on from this one (its own answer is then forgotten)."""
        return turn_id in self._joined.values()

    def whole(self, turn_id: int, text: str, voice_id: str, acts: Callable[[str], bool]) -> str:
        """The text to answer turn `turn_id` with: its own, or the previous answered turn's and its own when it goes
        on from that one. `acts(text)`: whether those words ask for an action (asked only when it matters)."""
        if turn_id in self._joined:  # decided at its pause; its final may have turned into a command
            if not acts(text):
                return f"{self._turns[self._joined[turn_id]].text} {text.strip()}"
            del self._joined[turn_id]
            return text
        t = self._turns.get(turn_id)
        before = max((b for b, p in self._turns.items() if b < turn_id and p.text), default=None)
        if t is None or t.onset_s is None or before is None or not self.within_s or not text.strip():
            return text
        prev = self._turns[before]
        if prev.acted or prev.ended_s is None or (voice_id and prev.voice_id and voice_id != prev.voice_id):
            return text
        if not 0.0 <= t.onset_s - prev.ended_s <= self.within_s:
            return text
        if prev.reply_from_s is not None and t.onset_s >= prev.reply_from_s + self.reaction_s:
            return text  # they heard the answer: this is a reply to it
        if acts(text):
            return text
        self._joined[turn_id] = before
        return f"{prev.text} {text.strip()}"
