"""The face: which expression to show, how intense, and blinks, with smooth transitions (no rclpy).

What drives it, by dialogue state: while the robot speaks, the expression planned for the reply; while the user
speaks, an empathic mirror of their emotion; while thinking, a thinking look; otherwise neutral.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from optimus_voice.contract.states import State
from optimus_voice.feeling.emotions import CIRCUMPLEX

# The user's emotion -> the robot's empathic expression while listening.
MIRROR = {"happy": "happy", "sad": "concerned", "angry": "concerned", "fearful": "concerned",
          "disgust": "concerned", "surprised": "surprised", "neutral": "attentive"}

EXPRESSION_VA = {**CIRCUMPLEX, "calm": (0.3, -0.5), "concerned": (-0.3, 0.1), "attentive": (0.1, 0.2),
                 "thinking": (0.0, 0.1)}
# Colour of each expression (r, g, b): rviz markers and report timelines.
COLOURS = {"happy": (1.0, 0.8, 0.1), "sad": (0.2, 0.3, 0.9), "angry": (0.9, 0.1, 0.1), "concerned": (0.6, 0.4, 0.9),
           "calm": (0.3, 0.8, 0.7), "thinking": (0.8, 0.8, 0.8), "attentive": (0.4, 0.9, 0.4),
           "surprised": (1.0, 0.5, 0.0), "fearful": (0.5, 0.2, 0.6), "disgust": (0.4, 0.6, 0.1)}


CUT_KEPT_MS = 60_000  # interrupted turns (ids are milliseconds) are remembered this long


@dataclass
class FaceFrame:
    expression: str
    valence: float
    arousal: float
    intensity: float
    eyelid_openness: float


@dataclass
class TimedViseme:
    turn_id: int
    viseme: str
    phonemes: str
    start_ns: int       # when it is heard
    end_ns: int
    sample_index: int


class LipSync:
    """The visemes of the speech being played: kept per turn, dropped when the speech is cut off."""

    def __init__(self) -> None:
        self._visemes: list[TimedViseme] = []
        self._cut: set[int] = set()  # turns whose speech was cut off

    def add(self, visemes: list[TimedViseme]) -> None:
        """Visemes of speech about to play. Those of a turn already cut off are ignored: they travel on another
        topic than the interruption and can arrive after it."""
        self._visemes += [v for v in visemes if v.turn_id not in self._cut]
        self._visemes.sort(key=lambda v: v.start_ns)

    def drop(self, turn_id: int | None = None) -> None:
        """Forget the visemes of one turn (interrupted speech, for good) or of all turns."""
        if turn_id is not None:
            self._cut = {t for t in self._cut if t > turn_id - CUT_KEPT_MS} | {turn_id}
        self._visemes = [v for v in self._visemes if turn_id is not None and v.turn_id != turn_id]

    def window(self, now_ns: int, horizon_s: float = 0.5) -> list[TimedViseme]:
        """The viseme being heard now and those starting within horizon_s; older ones are forgotten.

        The first entry is always the shape of now. Between two pieces of speech (or before the first) nothing
        plays, so the list opens with a rest ("sil") from now until the next shape; its sample index is the
        next one's, since the output stream does not advance while it is silent."""
        self._visemes = [v for v in self._visemes if v.end_ns > now_ns]
        horizon = now_ns + int(horizon_s * 1e9)
        ahead = [v for v in self._visemes if v.start_ns <= horizon]
        if ahead and ahead[0].start_ns > now_ns:
            first = ahead[0]
            ahead.insert(0, TimedViseme(first.turn_id, "sil", "", now_ns, first.start_ns, first.sample_index))
        return ahead

    def current(self, now_ns: int) -> str:
        return next((v.viseme for v in self._visemes if v.start_ns <= now_ns < v.end_ns), "sil")


class FaceMixer:
    def __init__(self, smoothing_s: float = 0.25, blink_every_s: float = 4.0, blink_s: float = 0.15,
                 seed: int = 0) -> None:
        self.state = State.IDLE
        self.user_emotion = "neutral"
        self.reply_expression = "neutral"
        self.turn_id = 0
        self.smoothing_s = smoothing_s
        self.blink_every_s = blink_every_s
        self.blink_s = blink_s
        self._rng = random.Random(seed)
        self._valence = 0.0
        self._arousal = 0.0
        self._intensity = 0.0
        self._last_t: float | None = None
        self._next_blink = blink_every_s

    def target(self) -> str:
        if self.state == State.SPEAKING:
            return self.reply_expression
        if self.state == State.LISTENING:
            return MIRROR.get(self.user_emotion, "attentive")
        if self.state == State.THINKING:
            return "thinking"
        return "neutral"

    def _goal(self) -> tuple[str, float, float, float]:
        """The target expression with its valence, arousal and intensity."""
        expression = self.target()
        tv, ta = EXPRESSION_VA.get(expression, (0.0, 0.0))
        return expression, tv, ta, 0.3 if expression == "neutral" else 0.8

    def moving(self, t: float, within_s: float) -> bool:
        """Whether the face changes between t and t + within_s: an expression still blending, or a blink due."""
        _, tv, ta, ti = self._goal()
        blending = max(abs(tv - self._valence), abs(ta - self._arousal), abs(ti - self._intensity)) > 0.01
        return blending or self._next_blink <= t + within_s

    def step(self, t: float) -> FaceFrame:
        dt = 0.0 if self._last_t is None else max(0.0, t - self._last_t)
        self._last_t = t
        expression, tv, ta, ti = self._goal()
        k = 1.0 - math.exp(-dt / self.smoothing_s) if dt else 0.0
        self._valence += k * (tv - self._valence)
        self._arousal += k * (ta - self._arousal)
        self._intensity += k * (ti - self._intensity)
        eyelid = 1.0
        if t >= self._next_blink:
            if t < self._next_blink + self.blink_s:
                eyelid = abs(2.0 * (t - self._next_blink) / self.blink_s - 1.0)  # close and reopen
            else:
                self._next_blink = t + self.blink_every_s * self._rng.uniform(0.6, 1.4)
        return FaceFrame(expression, self._valence, self._arousal, self._intensity, eyelid)


def marker_lines(face: FaceFrame, mouth: str, state: State, user_emotion: tuple[str, float, float], heard: str,
                 said: str, width: int = 60) -> list[str]:
    """The text lines of the face's rviz markers: the dialogue state, the face, the user's emotion, what was heard
    and what the robot said."""
    label, valence, arousal = user_emotion
    return [f"dialogue: {State(state).name.lower()}", f"robot: {face.expression}  mouth: {mouth}",
            f"user: {label} (v {valence:+.2f}, a {arousal:+.2f})", f"heard: {heard[-width:]}",
            f"said: {said[-width:]}"]
