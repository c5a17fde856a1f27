"""The dialogue (no rclpy): who has the floor, when to answer, what to say and how, from the user's turns, their
emotion and what the robot actually said.

Events go in as they arrive and each call returns what must be sent: `Say` and `Stop` requests, and `LlmJob`s for
the language-model worker (`CancelLlm` when one is no longer wanted). Everything runs on one thread, the node's
executor: the worker hands the model's sentences back through `llm_sentence`, `llm_failed` and `llm_done`.

Replies are prepared before the turn is over. At the recognizer's first pause its speculative transcript (the
partial right after the pause) is answered as a preview: chat for the model goes to the model at once, and the
sentences that come back are held; an embedded reply, once the emotion estimate of that text is in (the reply's
words and voice follow the emotion), goes out as a `Say` with `prepare` set, which speech synthesis renders but does
not play. The final transcript is decided as always: when it is that same text, the reply is the same and its
audio (or the model's held sentences) is ready; when the user went on, the prepared reply is dropped, unspoken.
Replies with an action (stop, volume, rate) are not prepared: actions take effect only once the turn is over.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass, field

from optimus_voice.contract.health import Health
from optimus_voice.contract.states import State
from optimus_voice.deciding.continuation import Continuations
from optimus_voice.deciding.llm import Conversation
from optimus_voice.deciding.policy import Policy, Reply
from optimus_voice.deciding.turn_taking import TurnTaking

VOLUME_RANGE = (0.3, 2.0)
VOLUME_STEP = 1.25
RATE_RANGE = (0.6, 1.6)
RATE_STEP = 1.15
HEARD_KEPT = 8   # user turns remembered for the conversation context


@dataclass
class Say:
    turn_id: int
    text: str
    expression: str
    style: str
    rate: float
    volume: float
    intent: str
    prepare: bool = False   # a preview while the turn may go on: synthesize, do not play


@dataclass
class Stop:
    turn_id: int


@dataclass
class LlmJob:
    job_id: int
    messages: list[dict[str, str]]


@dataclass
class CancelLlm:
    job_id: int


@dataclass
class WarmLlm:
    """The conversation grew: have the model read it now, so the next reply only costs the new turn."""

    messages: list[dict[str, str]]


Out = Say | Stop | LlmJob | CancelLlm | WarmLlm


@dataclass
class DialogueConfig:
    emotion_wait_s: float = 0.15        # how long a final transcript waits for its turn's emotion
    barge_in: bool = True
    barge_in_sustained_s: float = 1.2
    barge_in_echo_free_s: float = 0.15
    barge_in_double_talk: float = 0.5   # share of double talk in a turn's opening that stops the robot at once
    echo_overlap: float = 0.6
    llm: bool = False                   # a language model answers the llm_intents
    llm_intents: tuple[str, ...] = ("unknown", "small_talk")
    prepare_replies: bool = True        # prepare the reply at the user's first pause
    continue_within_s: float = 1.5      # a turn this soon after the last, before its answer was heard, goes on from it


@dataclass
class _Pending:
    text: str
    final_s: float


@dataclass
class _LlmReply:
    job_id: int
    text: str                    # what the user said, that the model answers
    fallback: Reply | None       # the embedded reply; None while only prepared (the turn may still go on)
    held: list[str] = field(default_factory=list)  # sentences come before the turn was confirmed over
    done: bool = False
    said: int = 0


@dataclass
class Snapshot:
    """What /dialogue/state shows."""

    state: State
    turn_id: int
    user_text: str
    user_emotion: str
    user_mood_valence: float
    robot_text: str
    intent: str


@dataclass
class DialogueManager:
    policy: Policy
    config: DialogueConfig = field(default_factory=DialogueConfig)
    health: Health = field(default_factory=Health)

    def __post_init__(self) -> None:
        self.turns = TurnTaking(self.config.barge_in_sustained_s, self.config.echo_overlap,
                                self.config.barge_in_echo_free_s, self.config.barge_in_double_talk)
        self.volume = 1.0
        self.rate = 1.0
        self.user_text = ""
        self.user_emotion = "neutral"
        self.mood = 0.0
        self.robot_text = ""
        self.intent = ""
        self.conversations: dict[str, Conversation] = {}  # per voice id: each person has their own history
        self._voices: dict[int, str] = {}  # turn id -> the voice that spoke it
        self._moods: dict[str, float] = {}  # voice id -> its mood valence (from /emotion)
        self._pending: dict[int, _Pending] = {}
        self._emotions: dict[int, str] = {}
        self._unprepared: dict[int, str] = {}   # turn -> its speculative text, waiting for that text's emotion
        self._heard: dict[int, str] = {}
        self._llm: dict[int, _LlmReply] = {}   # turn -> the model's reply to it
        self._jobs = itertools.count(1)
        self._paused: set[int] = set()          # turns at a pause: their next partial is the speculative final
        self.continuations = Continuations(self.config.continue_within_s)

    def conversation_of(self, voice_id: str = "") -> Conversation:
        return self.conversations.setdefault(voice_id, Conversation())

    @property
    def conversation(self) -> Conversation:
        """The conversation with the voice heard last."""
        return self.conversation_of(self._voices[max(self._voices)] if self._voices else "")

    def configure(self, config: DialogueConfig) -> None:
        """New settings (a parameter changed) take effect from the next event."""
        self.config = config
        self.turns.sustained_s = config.barge_in_sustained_s
        self.turns.echo_free_s = config.barge_in_echo_free_s
        self.turns.double_talk = config.barge_in_double_talk
        self.turns.echo_overlap = config.echo_overlap
        self.continuations.within_s = config.continue_within_s

    @property
    def busy(self) -> bool:
        """Whether `tick` has work: a decision waiting for its emotion, or a floor to watch."""
        return bool(self._pending) or self.turns.state != State.IDLE

    def snapshot(self) -> Snapshot:
        return Snapshot(self.turns.state, self.turns.turn_id, self.user_text, self.user_emotion, self.mood,
                        self.robot_text, self.intent)

    # -- events ----------------------------------------------------------------------------------------------
    def voice_activity(self, turn_id: int, started: bool, ended: bool, now_s: float, paused: bool = False,
                       double_talk: float = 0.0, at_s: float | None = None) -> list[Out]:
        """A turn opened, paused or ended. `at_s`: capture time (s) of its speech onset (started) or end (ended),
        which says whether it goes on from the turn before (deciding.continuation)."""
        if started:
            self.continuations.started(turn_id, at_s)
            speaking_turn = self.turns.speaking_turn
            self.turns.user_started(turn_id, now_s, double_talk)
            if self.turns.check_sustained(now_s):  # heard over the robot's voice: no need to wait for the tick
                return self._barge_in(speaking_turn, self.turns.stopped_by)
        elif ended:
            self.turns.user_stopped(turn_id)
            self.continuations.ended(turn_id, at_s)
        if paused:
            self._paused.add(turn_id)
        return []

    def echo_cancelled(self, converged: bool) -> None:
        """The microphone's echo canceller has converged (or lost its hold): how much speech a barge-in needs."""
        self.turns.canceller = True
        self.turns.echo_free = converged

    def echo_learning(self, learning: bool) -> None:
        """The canceller is still learning the room from nothing: its residual echo can open turns that it marks no
        double talk in, so such a turn needs words (or barge_in_sustained_ms) to stop the robot."""
        self.turns.unmarked_waits = learning

    def transcript(self, turn_id: int, text: str, final: bool, now_s: float, voice_id: str = "") -> list[Out]:
        speaking_turn = self.turns.speaking_turn
        if voice_id:
            self._voices[turn_id] = voice_id
            for old in sorted(self._voices)[:-HEARD_KEPT]:
                del self._voices[old]
        if not final:
            out = self._barge_in(speaking_turn, "words") if self.turns.heard(turn_id, text, voice_id) else []
            if turn_id in self._paused:
                self._paused.discard(turn_id)
                out += self._prepare(turn_id, self._whole(turn_id, text, voice_id))
            else:
                self._unprepared.pop(turn_id, None)  # the user went on after the pause
            return out
        self._paused.discard(turn_id)
        self._unprepared.pop(turn_id, None)  # decided now: nothing left to prepare
        answer, barge_in = self.turns.user_finished(turn_id, text, voice_id)
        out = self._barge_in(speaking_turn, "words") if barge_in else []
        if not answer:
            self.health.count("transcripts_not_answered")
        elif not text.strip():
            self.turns.nothing_to_say(turn_id)
        else:
            text = self._whole(turn_id, text, voice_id)
            self.continuations.answered(turn_id, text, voice_id)
            if (before := self.continuations.joined_to(turn_id)) is not None:
                self.health.count("turns_continued")
                self.conversation_of(voice_id).forget(before)  # its answer was cut short, and is answered now
            self.user_text = text
            self._heard[turn_id] = text  # for the conversation context, with what the robot says back
            for old in sorted(self._heard)[:-HEARD_KEPT]:
                del self._heard[old]
            self._pending[turn_id] = _Pending(text, now_s)
            out += self.tick(now_s)  # the emotion may be here already
        return out

    def emotion(self, turn_id: int, label: str, mood_valence: float, now_s: float, voice_id: str = "") -> list[Out]:
        """The final emotion of a turn, and the mood of the voice that spoke it."""
        self._emotions[turn_id] = label
        self._moods[voice_id] = mood_valence
        self.mood = mood_valence
        return self.tick(now_s)

    def emotion_so_far(self, turn_id: int, label: str) -> list[Out]:
        """A partial emotion estimate. The first after a turn's speculative final is that text's: prepare its reply."""
        text = self._unprepared.pop(turn_id, None)
        return self._prepare_reply(turn_id, text, label) if text is not None else []

    def progress(self, turn_id: int, state: str, spoken_text: str, at_s: float | None = None,
                 text: str = "") -> list[Out]:
        """Speech progress: 'started', 'speaking', 'done' or 'interrupted', with the words actually played
        (`at_s`: the progress's stamp in seconds, on the ROS clock the capture stamps use too; `text`: the whole
        reply being spoken, as the speech node has it)."""
        if state == "started":
            self.turns.speech_started(turn_id)
            self.continuations.reply_started(turn_id, at_s)
        if state in ("started", "speaking"):
            if text and turn_id == self.turns.speaking_turn:
                # What the robot says, as spoken: all of a language model's sentences, and what the robot's own
                # software asked it to say (not decided here), so the echo rule knows its words when heard back.
                self.turns.robot_text = text
        elif state in ("done", "interrupted"):
            self.robot_text = spoken_text
            self.policy.spoken(spoken_text)  # "repeat that" repeats what was heard, not what was planned
            conversation = self.conversation_of(self._voices.get(turn_id, ""))
            if not self.continuations.is_continued(turn_id):  # else the later turn's exchange holds it
                conversation.spoken(turn_id, self._heard.get(turn_id, ""), spoken_text)
            self.turns.speech_ended(turn_id)
            if self.config.llm:
                return [WarmLlm(conversation.history())]
        return []

    def tick(self, now_s: float) -> list[Out]:
        """Barge-in by sustained speech, and the decisions whose emotion came or waited long enough."""
        out: list[Out] = []
        speaking_turn = self.turns.speaking_turn
        if self.turns.check_sustained(now_s):
            out += self._barge_in(speaking_turn, self.turns.stopped_by)
        for turn_id, pending in list(self._pending.items()):
            if self.turns.is_stale(turn_id):
                del self._pending[turn_id]
                self.health.count("stale_turns_dropped")
                continue
            if turn_id not in self._emotions and now_s - pending.final_s < self.config.emotion_wait_s:
                continue
            del self._pending[turn_id]
            out += self._decide(turn_id, pending.text, self._emotions.pop(turn_id, "neutral"))
        for kept in (self._emotions, self._unprepared):
            for old in [t for t in kept if t < self.turns.turn_id]:
                del kept[old]
        for old in [t for t in self._llm if self.turns.is_stale(t)]:  # the user went on: no model reply wanted
            out.append(CancelLlm(self._llm.pop(old).job_id))
            self.health.count("llm_stale_dropped")
        return out

    # -- the language model's reply, handed back by its worker -----------------------------------------------
    def _reply_of(self, job_id: int) -> tuple[int, _LlmReply] | None:
        return next(((t, r) for t, r in self._llm.items() if r.job_id == job_id), None)

    def llm_sentence(self, job_id: int, text: str) -> list[Out]:
        found = self._reply_of(job_id)
        if found is None:
            return []
        turn_id, reply = found
        if self.turns.is_stale(turn_id):
            del self._llm[turn_id]
            self.health.count("llm_stale_dropped")
            return [CancelLlm(job_id)]
        if reply.fallback is None:  # prepared: held until the turn is over
            reply.held.append(text)
            return []
        return self._say_llm(turn_id, reply, text)

    def llm_failed(self, job_id: int, error: str) -> list[Out]:
        """The model failed: before its first sentence, the embedded reply is spoken instead."""
        self.health.problem("llm_errors", f"language model failed: {error}")
        found = self._reply_of(job_id)
        if found is None:
            return []
        turn_id, reply = found
        del self._llm[turn_id]
        if reply.fallback is None or reply.said or self.turns.is_stale(turn_id):
            return []  # prepared only: the turn's decision asks again
        self.health.count("llm_fallbacks")
        return self._act(turn_id, reply.fallback)

    def llm_done(self, job_id: int) -> list[Out]:
        found = self._reply_of(job_id)
        if found is None:
            return []
        turn_id, reply = found
        reply.done = True
        if reply.fallback is None:
            return []  # prepared: finished when the turn is
        del self._llm[turn_id]
        return [] if reply.said else self._act(turn_id, reply.fallback)  # an empty answer: the embedded one

    def _say_llm(self, turn_id: int, reply: _LlmReply, text: str) -> list[Out]:
        reply.said += 1
        expression = reply.fallback.expression if reply.fallback.emotion != "neutral" else "attentive"
        return self._act(turn_id, dataclasses.replace(reply.fallback, text=text, intent="llm", action="",
                                                      expression=expression))

    # -- decisions -------------------------------------------------------------------------------------------
    def _whole(self, turn_id: int, text: str, voice_id: str) -> str:
        """The turn's text, or the previous turn's and its own when it goes on from it."""
        return self.continuations.whole(turn_id, text, voice_id, lambda words: bool(self.policy.action_of(words)))

    def _prepare(self, turn_id: int, text: str) -> list[Out]:
        """The speculative final of a turn that has the floor: prepare its reply (the model's, if it is chat)."""
        if not self.config.prepare_replies or not text.strip() or turn_id != self.turns.turn_id \
                or self.turns.state != State.LISTENING:
            return []  # nothing heard, or a turn over the robot's speech not yet judged: maybe its own echo
        if self.config.llm and self.policy.classify(text) in self.config.llm_intents:
            return self._prepare_llm(turn_id, text)
        self._unprepared[turn_id] = text
        return []

    def _prepare_reply(self, turn_id: int, text: str, emotion: str) -> list[Out]:
        """Preview the embedded reply to `text`, to be synthesized while the turn may still go on."""
        if self.turns.is_stale(turn_id):
            return []
        voice_id = self._voices.get(turn_id, "")
        reply = self.policy.respond(text, emotion, self._moods.get(voice_id, self.mood), voice_id=voice_id,
                                    commit=False)
        if reply.action:
            return []
        self.health.count("replies_prepared")
        return [Say(turn_id, reply.text, reply.expression, reply.style, self.rate, self.volume, reply.intent,
                    prepare=True)]

    def _prepare_llm(self, turn_id: int, text: str) -> list[Out]:
        """Chat for the model at the speculative final: ask the model now, and hold what it says."""
        out: list[Out] = []
        current = self._llm.get(turn_id)
        if current is not None:
            if current.text == text:
                return []
            out.append(CancelLlm(self._llm.pop(turn_id).job_id))
        job = next(self._jobs)
        self._llm[turn_id] = _LlmReply(job, text, None)
        self.health.count("llm_prepared")
        emotion = self._emotions.get(turn_id, "neutral")
        return [*out, LlmJob(job, self.conversation_of(self._voices.get(turn_id, "")).messages(text, emotion))]

    def _decide(self, turn_id: int, text: str, emotion: str) -> list[Out]:
        self.user_emotion = emotion
        voice_id = self._voices.get(turn_id, "")
        reply = self.policy.respond(text, emotion, self._moods.get(voice_id, self.mood), voice_id=voice_id)
        self.health.timing("decide", reply.decide_ms)
        prepared = self._llm.pop(turn_id, None)
        if not (self.config.llm and reply.intent in self.config.llm_intents):
            return ([CancelLlm(prepared.job_id)] if prepared else []) + self._act(turn_id, reply)
        if prepared is not None and prepared.text == text:  # the turn ended where the model was asked
            prepared.fallback = reply
            self._llm[turn_id] = prepared
            self.health.count("llm_prepared_used")
            out = [o for sentence in prepared.held for o in self._say_llm(turn_id, prepared, sentence)]
            if prepared.done:
                del self._llm[turn_id]
                return out or self._act(turn_id, reply)
            return out
        out = [CancelLlm(prepared.job_id)] if prepared is not None else []
        job = next(self._jobs)
        self._llm[turn_id] = _LlmReply(job, text, reply)
        return [*out, LlmJob(job, self.conversation_of(voice_id).messages(text, reply.emotion))]

    def _act(self, turn_id: int, reply: Reply) -> list[Out]:
        self.intent = reply.intent
        self.turns.speaking(turn_id, reply.text, self._voices.get(turn_id, ""))
        if reply.action:
            self.continuations.acted(turn_id)
        out: list[Out] = []
        if reply.action == "stop":
            out.append(Stop(self.turns.speaking_turn))
        elif reply.action in ("volume_up", "volume_down"):
            steps = reply.amount if reply.action == "volume_up" else -reply.amount
            self.volume = min(max(self.volume * VOLUME_STEP ** steps, VOLUME_RANGE[0]), VOLUME_RANGE[1])
        elif reply.action == "volume_set":  # level 0-10, 5 the voice's own loudness
            self.volume = min(max(reply.amount / 5, VOLUME_RANGE[0]), VOLUME_RANGE[1])
        elif reply.action in ("rate_up", "rate_down"):
            steps = reply.amount if reply.action == "rate_up" else -reply.amount
            self.rate = min(max(self.rate * RATE_STEP ** steps, RATE_RANGE[0]), RATE_RANGE[1])
        out.append(Say(turn_id, reply.text, reply.expression, reply.style, self.rate, self.volume, reply.intent))
        self.health.count(f"intent_{reply.intent}")
        return out

    def _barge_in(self, speaking_turn: int, why: str) -> list[Out]:
        if not self.config.barge_in:
            return []
        self.health.count(f"barge_ins_{why}")
        out: list[Out] = [Stop(speaking_turn)]
        if (reply := self._llm.pop(speaking_turn, None)) is not None:  # the model may still be writing it: stop it
            out.append(CancelLlm(reply.job_id))
        return out
