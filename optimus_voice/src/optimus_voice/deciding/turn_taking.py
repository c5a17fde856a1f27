"""Turn-taking: who has the floor, when the user really interrupts the robot, and which work is stale (no rclpy).

Barge-in. The robot stops talking only when the user really takes the floor, so that its own voice picked up by
the microphone, a cough or a backchannel ("yeah", "mm-hm") does not cut it off:
- the voice activity must open a turn (the ASR already needs 200 ms of speech for that), then
- the user's words decide: a partial or final transcript with a word that is not a backchannel and that is not
  the robot's own reply heard back (most of the heard words occur in what the robot is saying) interrupts at once;
- speech that goes on for `sustained_ms` without a transcript that says otherwise interrupts too (a long
  utterance whose first partial is late); while the microphone's echo canceller has converged (`echo_free`), the
  robot's own voice no longer opens turns, and `echo_free_s` of speech is enough, or none at all when the
  canceller heard at least the `double_talk` share of the speech that opened the turn as a voice over the robot's
  (the linear filter's error far above the echo it leaves at its measured ERLE); while a canceller runs but has
  not converged (its first seconds, or after the echo path changed), the robot's garbled voice can read as other
  words, so two partials in a row (or the final) must show the interruption, and duration alone never does (for a
  turn that opened then, even once the canceller has converged under it);
- a turn that ends with only a backchannel, the robot's own words or no words at all is ignored; while the
  canceller still learns the room (`unmarked_waits`), so is one of nothing but words that alone say nothing
  ("it.", "you": what the recognizer makes of a residual echo);
- a voice other than the one the robot is answering (voice ids) is judged by its final transcript only: a
  bystander's first words or long remark do not cut the robot off, their finished turn may.
The words rules are the second line of defence behind the capture node's acoustic echo canceller: before it has
converged (or without it), the robot's voice reaches the ASR, and its words are recognised as its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from optimus_voice.common.numbers import digits_as_words
from optimus_voice.common.words import words
from optimus_voice.contract.states import State

BACKCHANNELS = frozenset([
    "yeah", "yes", "yep", "yup", "ok", "okay", "mhm", "mmhm", "mhmm", "mm", "mmm", "hmm", "mmhmm", "uh", "huh",
    "uhhuh", "uhuh", "right", "sure", "oh", "ah", "aha", "wow", "cool", "nice", "i", "see", "alright",
    "er", "erm", "um", "umm", "uhm", "hm",  # fillers hold the floor no more than a backchannel takes it
])
# Words that alone say nothing: what the recognizer makes of a residual echo or a breath ("you", "it.", "the"),
# not a user taking the floor. While the canceller is still learning the room, a turn heard over the robot as
# nothing but these does not stop it by its words (test_up_devices: "it." stopped the first reply).
FUNCTION_WORDS = frozenset([
    "a", "an", "the", "it", "its", "is", "was", "be", "are", "am", "were", "to", "of", "in", "on", "at", "by", "for",
    "with", "from", "as", "and", "or", "but", "so", "you", "your", "he", "she", "they", "we", "me", "him", "her",
    "them", "us", "this", "that", "there", "then", "do", "did", "has", "have", "had", "will", "would", "can",
])
_ALL_RIGHT = re.compile(r"\ball right\b")
# Contractions spelt out, so that the robot's "I am sorry" heard back as "I'm sorry" is recognised as its own.
_CONTRACTIONS = [(re.compile(r"\bcan't\b"), "can not"), (re.compile(r"\bwon't\b"), "will not"),
                 (re.compile(r"n't\b"), " not"), (re.compile(r"'re\b"), " are"), (re.compile(r"'m\b"), " am"),
                 (re.compile(r"'ll\b"), " will"), (re.compile(r"'ve\b"), " have"), (re.compile(r"'d\b"), " would"),
                 (re.compile(r"\blet's\b"), "let us"),
                 (re.compile(r"\b(it|that|what|there|here|he|she)'s\b"), r"\1 is")]


def _words(text: str) -> list[str]:
    # "mm-hm", "uh-huh" and "all right" are one backchannel each
    text = _ALL_RIGHT.sub("alright", text.lower().replace("-", "").replace("\u2019", "'"))
    # Numbers as words on both sides: the robot's "volume 3" heard back as "volume three" is its own voice.
    text = digits_as_words(text)
    for pattern, spelt in _CONTRACTIONS:
        text = pattern.sub(spelt, text)
    return words(text)


def classify_interruption(text: str, robot_text: str, echo_overlap: float = 0.6) -> str:
    """What words heard while the robot speaks are: 'interrupt', 'backchannel', 'echo' or 'nothing'."""
    words = _words(text)
    if not words:
        return "nothing"
    content = [w for w in words if w not in BACKCHANNELS]
    if not content:
        return "backchannel"
    robot = set(_words(robot_text))
    if robot and sum(w in robot for w in content) >= echo_overlap * len(content):
        return "echo"
    return "interrupt"


@dataclass
class _Candidate:
    """A user turn that started while the robot was speaking, not yet judged."""

    turn_id: int
    started_s: float
    ended: bool = False      # the voice activity ended: only the final transcript can still decide
    suspect: bool = False    # heard the robot's own words: never interrupt on duration alone
    other_voice: bool = False  # not the voice the robot is answering: only the final transcript decides
    double_talk: float = 0.0   # share of the opening speech the echo canceller heard over the robot's voice
    converging: bool = False   # opened while the echo canceller was still learning: maybe the robot's own voice
    verdicts: list[str] = field(default_factory=list)


class TurnTaking:
    """Who has the floor. Turn ids order everything: work for a turn older than the latest is stale."""

    def __init__(self, sustained_s: float = 1.2, echo_overlap: float = 0.6, echo_free_s: float = 0.15,
                 double_talk: float = 0.0, converging_logprob: float | None = None) -> None:
        self.state = State.IDLE
        self.turn_id = 0          # latest user turn that has the floor
        self.speaking_turn = 0    # turn whose reply is being spoken
        self.robot_text = ""      # the reply being spoken (to recognise it when the microphone hears it)
        self.addressee = ""       # the voice id of the turn being answered ("" unknown)
        self.sustained_s = sustained_s
        self.echo_free_s = echo_free_s
        self.double_talk = double_talk  # share of double talk that interrupts at once (converged); 0: never
        # A turn with no double talk at all waits sustained_s even when converged: set while the canceller is still
        # learning the room from nothing (/audio/in/echo_learning), when such a turn is likely its residual echo.
        self.unmarked_waits = False
        self.echo_free = False    # the microphone's echo canceller has converged: its audio holds no robot voice
        self.canceller = False    # an echo canceller runs at the microphone (it said whether it converged)
        self.echo_overlap = echo_overlap
        # While the canceller converges, words decoded less surely than this (mean log-probability per token) are
        # taken for the robot's garbled voice, not the user's; None: no such floor.
        self.converging_logprob = converging_logprob
        self.candidate: _Candidate | None = None
        self.stopped_by = ""      # why check_sustained last stopped the robot: "sustained_speech" or "double_talk"
        self._ignored: set[int] = set()

    def _take_floor(self, turn_id: int) -> None:
        self.turn_id = max(self.turn_id, turn_id)
        self.state = State.LISTENING
        self.candidate = None

    def user_started(self, turn_id: int, now_s: float, double_talk: float = 0.0) -> None:
        """Voice activity opened a turn (`double_talk`: share of its opening speech the echo canceller heard over
        the robot's voice). While the robot speaks it is only a candidate interruption."""
        if self.state == State.SPEAKING:
            self.candidate = _Candidate(turn_id, now_s, double_talk=double_talk,
                                        converging=self.canceller and not self.echo_free)
        else:
            self._take_floor(turn_id)

    def user_stopped(self, turn_id: int) -> None:
        if self.candidate is not None and self.candidate.turn_id == turn_id:
            self.candidate.ended = True

    def heard(self, turn_id: int, text: str, voice_id: str = "", final: bool = False,
              logprob: float | None = None) -> bool:
        """A partial transcript (`logprob`: its decode's mean log-probability per token, if known). True if it shows
        a real interruption: stop the robot now."""
        c = self.candidate
        if c is None or c.turn_id != turn_id:
            return False
        verdict = classify_interruption(text, self.robot_text, self.echo_overlap)
        converging = self.canceller and not self.echo_free
        if (verdict == "interrupt" and (converging or c.converging) and self.converging_logprob is not None
                and logprob is not None and logprob < self.converging_logprob):
            verdict = "unsure"
        if verdict == "interrupt" and self.unmarked_waits and set(_words(text)) <= FUNCTION_WORDS | BACKCHANNELS:
            verdict = "unsure"
        c.verdicts.append(verdict)
        c.suspect = c.suspect or verdict == "echo"
        c.other_voice = c.other_voice or bool(voice_id and self.addressee and voice_id != self.addressee)
        # A turn opened while the canceller converged is decoded from its start, the robot's garbled voice included,
        # even once the canceller has converged under it (the first reply's false stop in test_up_devices).
        confirmed = final or not (converging or c.converging) or c.verdicts[-2:] == ["interrupt", "interrupt"]
        if verdict == "interrupt" and confirmed and (final or not c.other_voice):
            self._take_floor(turn_id)
            return True
        return False

    def check_sustained(self, now_s: float) -> bool:
        """True if a candidate has talked over the robot for sustained_s (echo_free_s while the microphone is free
        of the robot's voice, nothing more when the canceller heard it as double talk; never while a canceller
        converges) with nothing against it: stop now."""
        c = self.candidate
        if (self.canceller and not self.echo_free) or (c is not None and c.converging):
            # A canceller still learning lets the robot's garbled voice open turns that no words mark as its own
            # (the duplex bench's false stops while converging): only words can interrupt such a turn, even once
            # the canceller has converged under it.
            return False
        heard_over = self.echo_free and c is not None and 0 < self.double_talk <= c.double_talk
        # A turn in which the canceller heard no double talk at all is likely its residual echo: the long wait.
        unmarked = self.unmarked_waits and c is not None and c.double_talk == 0.0
        needed = 0.0 if heard_over else self.echo_free_s if self.echo_free and not unmarked else self.sustained_s
        if c is None or c.ended or c.suspect or c.other_voice or now_s - c.started_s < needed:
            return False
        self.stopped_by = "double_talk" if heard_over else "sustained_speech"
        self._take_floor(c.turn_id)
        return True

    def user_finished(self, turn_id: int, text: str, voice_id: str = "",
                      logprob: float | None = None) -> tuple[bool, bool]:
        """A final transcript: (answer it?, is it a barge-in that must stop the robot now?)."""
        if turn_id in self._ignored:
            return False, False
        c = self.candidate
        if c is not None and c.turn_id == turn_id:
            if not self.heard(turn_id, text, voice_id, final=True, logprob=logprob):
                self.candidate = None
                self._ignored.add(turn_id)  # a backchannel, a cough or our own voice: the robot goes on
                return False, False
            self.state = State.THINKING
            return True, True
        if turn_id < self.turn_id:
            return False, False
        self.turn_id = turn_id
        self.state = State.THINKING
        return True, False

    def is_stale(self, turn_id: int) -> bool:
        return turn_id < self.turn_id

    def speaking(self, turn_id: int, text: str, voice_id: str = "") -> None:
        """The dialogue asked the robot to say `text` for turn_id, spoken by `voice_id`."""
        self.robot_text = text
        self.addressee = voice_id

    def speech_started(self, turn_id: int) -> None:
        if not self.is_stale(turn_id) and self.state != State.LISTENING:
            self.state = State.SPEAKING
            self.speaking_turn = turn_id

    def speech_ended(self, turn_id: int) -> None:
        if turn_id == self.speaking_turn and self.state == State.SPEAKING:
            self.state = State.IDLE if self.candidate is None else State.LISTENING
            if self.candidate is not None:  # the robot finished while the user was talking: the user has the floor
                self._take_floor(self.candidate.turn_id)

    def nothing_to_say(self, turn_id: int) -> None:
        if turn_id == self.turn_id and self.state == State.THINKING:
            self.state = State.IDLE
