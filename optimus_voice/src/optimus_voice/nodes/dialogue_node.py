"""Dialogue node: turn-taking and the embedded reply policy -> /speech/request and /dialogue/state."""

from __future__ import annotations

import dataclasses
import os
import threading
import time

from optimus_voice import topics
from optimus_voice.engines.dialogue import Policy, Reply
from optimus_voice.engines.llm import ChatStream, Conversation, LlmConfig, LlmError, sentences
from optimus_voice.engines.turn_taking import State, TurnTaking
from optimus_voice.nodes.base import Param, VoiceNode, run
from optimus_voice_msgs.msg import DialogueState, SpeechRequest


def default_intents_path() -> str:
    from ament_index_python.packages import get_package_share_directory

    return os.path.join(get_package_share_directory("optimus_voice"), "config", "intents.yaml")


TICK_S = 0.05


class DialogueNode(VoiceNode):
    PARAMS = (
        Param("intents_path", "", "YAML file of intents; empty: config/intents.yaml of the package."),
        Param("intent_threshold", 0.40, "Embedding similarity below which the input counts as unknown."),
        Param("use_embeddings", True, "Match intents with MiniLM sentence embeddings (false: by words)."),
        Param("emotion_wait_ms", 150.0, "How long to wait for the turn's final emotion after its final transcript."),
        Param("barge_in", True, "Stop the robot's speech when the user really talks over it."),
        Param("barge_in_sustained_ms", 1200.0,
              "Speech over the robot this long interrupts it even before words are recognised (ms)."),
        Param("llm_url", "", "OpenAI-compatible chat endpoint (e.g. http://localhost:8080/v1); empty: embedded only."),
        Param("llm_model", "", "Model name sent to the chat endpoint."),
        Param("llm_timeout_s", 1.5, "Seconds to wait for the endpoint (connect, each streamed piece) before the "
              "embedded reply is spoken instead."),
        Param("llm_intents", ["unknown", "small_talk"],
              "Intents whose replies come from the language model; commands always stay embedded."),
        Param("llm_max_words", 60, "Cap on the words of a language-model reply."),
        Param("echo_overlap", 0.6,
              "Share of heard words found in the robot's own reply above which they count as its echo."),
    )

    def __init__(self) -> None:
        super().__init__("dialogue")
        self.policy: Policy | None = None
        self._timer = None  # the decision tick, while there is something to decide or watch
        self._timer_lock = threading.Lock()

    def configure_stage(self) -> None:
        self.policy = Policy(self.param("intents_path") or default_intents_path(), self.param("intent_threshold"),
                             use_embeddings=self.param("use_embeddings"))
        self.health.set_value("intent_matcher", self.policy.matcher.backend)
        if self.param("use_embeddings") and self.policy.matcher.backend != "minilm":
            self.health.problem("model_errors", "MiniLM embeddings unavailable: matching intents by words")
        self.turns = TurnTaking(self.param("barge_in_sustained_ms") / 1000, self.param("echo_overlap"))
        self.volume = 1.0
        self.rate = 1.0
        self._pending: dict[int, tuple[str, float]] = {}   # turn -> (text, monotonic time of the final)
        self._emotions: dict[int, str] = {}
        self._heard: dict[int, str] = {}
        self.user_text = ""
        self.user_emotion = "neutral"
        self.mood = 0.0
        self.robot_text = ""
        self.intent = ""
        self._act_lock = threading.Lock()  # _act runs on the executor and on language-model threads
        self.llm = None
        self.conversation = Conversation()
        if self.param("llm_url"):
            self.llm = ChatStream(LlmConfig(self.param("llm_url"), self.param("llm_model"),
                                            self.param("llm_timeout_s")))
            self.health.set_value("llm", self.param("llm_url"))
        self.request_pub = self.publisher(topics.SPEECH_REQUEST)
        self.state_pub = self.publisher(topics.DIALOGUE_STATE)
        self.subscribe(topics.VOICE_ACTIVITY, self.on_voice_activity)
        self.subscribe(topics.TRANSCRIPT, self.on_transcript)
        self.subscribe(topics.EMOTION, self.on_emotion)
        self.subscribe(topics.SPEECH_PROGRESS, self.on_progress)

    def activate_stage(self) -> None:
        self._last_state = None
        # Decisions are event driven (final transcript, emotion); the timer only ends the wait for an emotion that
        # does not come and watches for sustained barge-in speech, so 20 Hz is enough, and it exists only while
        # something is pending or the robot speaks: idle listening costs no ticks.
        self._wake()

    def _wake(self) -> None:
        with self._timer_lock:
            if self._timer is None:
                self._timer = self.create_timer(TICK_S, self._decide_pending)

    def _sleep(self) -> None:
        # Destroyed, not cancelled: the executor skips a destroyed timer it found ready, where calling a cancelled
        # one raises and ends its spin.
        with self._timer_lock:
            if self._timer is not None:
                self.destroy_timer(self._timer)
                self._timer = None

    def deactivate_stage(self) -> None:
        self._sleep()

    def cleanup_stage(self) -> None:
        self.deactivate_stage()
        self.policy = None

    # -- inputs ----------------------------------------------------------------------------------------------
    def on_voice_activity(self, msg) -> None:
        if not self.turn_ok(msg.turn_id):
            return
        self._wake()
        if msg.event == msg.SPEECH_START:
            self.turns.user_started(msg.turn_id, time.monotonic())
        elif msg.event == msg.SPEECH_END:
            self.turns.user_stopped(msg.turn_id)
        self._publish_state()

    def on_transcript(self, msg) -> None:
        if not self.turn_ok(msg.turn_id):
            return
        if not msg.is_final:
            speaking_turn = self.turns.speaking_turn
            if self.turns.heard(msg.turn_id, msg.text):
                self._barge_in(speaking_turn, "words")
            return
        speaking_turn = self.turns.speaking_turn
        answer, barge_in = self.turns.user_finished(msg.turn_id, msg.text)
        if barge_in:
            self._barge_in(speaking_turn, "words")
        if not answer:
            self.health.count("transcripts_not_answered")
        elif not msg.text.strip():
            self.turns.nothing_to_say(msg.turn_id)
        else:
            self.user_text = msg.text
            self._heard[msg.turn_id] = msg.text  # for the conversation context, with what the robot says back
            for old in sorted(self._heard)[:-8]:
                del self._heard[old]
            self._pending[msg.turn_id] = (msg.text, time.monotonic())
            self._wake()
            self._decide_pending()  # the emotion may be here already
        self._publish_state()

    def _barge_in(self, speaking_turn: int, why: str) -> None:
        if self.param("barge_in"):
            self._request_stop(speaking_turn)
            self.health.count(f"barge_ins_{why}")

    def on_emotion(self, msg) -> None:
        if msg.is_final and self.turn_ok(msg.turn_id):
            self._emotions[msg.turn_id] = msg.label
            self.mood = msg.mood_valence
            self._decide_pending()

    def on_progress(self, msg) -> None:
        self._wake()
        if msg.state == msg.STARTED:
            self.turns.speech_started(msg.turn_id)
        elif msg.state in (msg.DONE, msg.INTERRUPTED):
            self.robot_text = msg.spoken_text
            if self.policy is not None:  # "repeat that" repeats what was heard, not what was planned
                self.policy.spoken(msg.spoken_text)
            self.conversation.spoken(msg.turn_id, self._heard.get(msg.turn_id, ""), msg.spoken_text)
            self.turns.speech_ended(msg.turn_id)
        self._publish_state()

    # -- decisions -------------------------------------------------------------------------------------------
    def _decide_pending(self) -> None:
        if not self.active or self.policy is None:
            return
        if self._last_state is None:  # first state after activation, for late joiners of the latched topic
            self._publish_state()
        speaking_turn = self.turns.speaking_turn
        if self.turns.check_sustained(time.monotonic()):
            self._barge_in(speaking_turn, "sustained_speech")
            self._publish_state()
        wait_s = self.param("emotion_wait_ms") / 1000
        for turn_id, (text, t_final) in list(self._pending.items()):
            if self.turns.is_stale(turn_id):
                del self._pending[turn_id]
                self.health.count("stale_turns_dropped")
                continue
            if turn_id not in self._emotions and time.monotonic() - t_final < wait_s:
                continue
            del self._pending[turn_id]
            emotion = self._emotions.pop(turn_id, "neutral")
            self.user_emotion = emotion
            reply = self.policy.respond(text, emotion, self.mood)
            self.health.timing("decide", reply.decide_ms)
            if self.llm is not None and reply.intent in self.param("llm_intents"):
                threading.Thread(target=self._llm_reply, args=(turn_id, text, reply), daemon=True).start()
            else:
                self._act(turn_id, reply)
        for old in [t for t in self._emotions if t < self.turns.turn_id]:
            del self._emotions[old]
        if not self._pending and self.turns.state == State.IDLE:
            self._sleep()

    def _llm_reply(self, turn_id: int, text: str, fallback: Reply) -> None:
        """Speak the language model's reply a sentence at a time; on an error before the first sentence, speak the
        embedded reply instead. The model's words are only ever said: actions stay with the embedded policy."""
        said = 0
        t0 = time.perf_counter()
        try:
            stream = self.llm.deltas(self.conversation.messages(text, fallback.emotion))
            for piece in sentences(stream, max_words=self.param("llm_max_words")):
                if self.turns.is_stale(turn_id):
                    self.health.count("llm_stale_dropped")
                    return
                if not said:
                    self.health.timing("llm_first_sentence", (time.perf_counter() - t0) * 1000)
                self._act(turn_id, dataclasses.replace(fallback, text=piece, intent="llm", action=""))
                said += 1
        except LlmError as exc:
            self.get_logger().warn(f"language model failed, {'stopping' if said else 'embedded reply'}: {exc}",
                                   throttle_duration_sec=10.0)
            self.health.problem("llm_errors", f"language model failed: {exc}")
            if not said and not self.turns.is_stale(turn_id):
                self.health.count("llm_fallbacks")
                self._act(turn_id, fallback)
            return
        if not said:  # an empty answer
            self._act(turn_id, fallback)

    def _act(self, turn_id: int, reply: Reply) -> None:
        with self._act_lock:
            self._act_locked(turn_id, reply)

    def _act_locked(self, turn_id: int, reply: Reply) -> None:
        self.intent = reply.intent
        self.turns.speaking(turn_id, reply.text)
        if reply.action == "stop":
            self._request_stop(self.turns.speaking_turn)
        elif reply.action == "volume_up":
            self.volume = min(2.0, self.volume * 1.25)
        elif reply.action == "volume_down":
            self.volume = max(0.3, self.volume / 1.25)
        elif reply.action == "rate_up":
            self.rate = min(1.6, self.rate * 1.15)
        elif reply.action == "rate_down":
            self.rate = max(0.6, self.rate / 1.15)
        self.request_pub.publish(SpeechRequest(
            header=self.header(), turn_id=turn_id, action=SpeechRequest.ACTION_SAY, text=reply.text,
            expression=reply.expression, style=reply.style, rate=self.rate, volume=self.volume, interruptible=True))
        self.health.count(f"intent_{reply.intent}")
        self._publish_state()

    def _request_stop(self, turn_id: int) -> None:
        self.request_pub.publish(SpeechRequest(header=self.header(), turn_id=turn_id,
                                               action=SpeechRequest.ACTION_STOP))

    def _publish_state(self) -> None:
        snapshot = (self.turns.state, self.turns.turn_id, self.user_text, self.robot_text)
        if snapshot == self._last_state:
            return
        self._last_state = snapshot
        self.state_pub.publish(DialogueState(
            header=self.header(), state=int(self.turns.state), turn_id=self.turns.turn_id,
            user_text=self.user_text, user_emotion=self.user_emotion, user_mood_valence=self.mood,
            robot_text=self.robot_text, intent=self.intent))
        self.health.set_value("state", State(self.turns.state).name.lower())


def main(args: list[str] | None = None) -> None:
    run(DialogueNode, args)
