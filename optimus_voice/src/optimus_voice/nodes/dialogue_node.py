"""Dialogue node: turn-taking and the reply policy (deciding.manager) -> /speech/request and /dialogue/state."""

from __future__ import annotations

import collections
import threading
import time

from optimus_voice.contract import stamps, topics
from optimus_voice.contract.states import State
from optimus_voice.deciding.llm import LlmConfig, LlmEvent, LlmWorker
from optimus_voice.deciding.manager import CancelLlm, DialogueConfig, DialogueManager, LlmJob, Out, Say, Stop, WarmLlm
from optimus_voice.deciding.policy import Policy
from optimus_voice.nodes.base import VoiceNode, run
from optimus_voice.nodes.params import CONFIGURE, READ_ONLY, Param, default_intents_path
from optimus_voice_msgs.msg import DialogueState, SpeechRequest

TICK_S = 0.05
PROGRESS = {1: "started", 2: "speaking", 3: "done", 4: "interrupted"}  # SpeechProgress states


def _seconds(t) -> float | None:
    """A message time in seconds; None for an unset one (zero)."""
    ns = stamps.from_time(t)
    return ns / 1e9 if ns else None


class DialogueNode(VoiceNode):
    PARAMS = (
        Param("intents_path", "", "YAML file of intents; empty: config/intents.yaml of the package.", when=READ_ONLY),
        Param("intent_threshold", 0.40, "Embedding similarity below which the input counts as unknown.", 0.0, 1.0,
              when=CONFIGURE),
        Param("use_embeddings", True, "Match intents with MiniLM sentence embeddings (false: by words).",
              when=CONFIGURE),
        Param("emotion_wait_ms", 150.0, "How long to wait for the turn's final emotion after its final transcript.",
              0.0, 5000.0),
        Param("barge_in", True, "Stop the robot's speech when the user really talks over it."),
        Param("barge_in_sustained_ms", 1200.0,
              "Speech over the robot this long interrupts it even before words are recognised (ms).", 100.0, 10000.0),
        Param("barge_in_echo_free_ms", 150.0,
              "The same while the microphone's echo canceller has converged (/audio/in/echo_cancelled): the robot's "
              "voice no longer opens turns, so less speech is enough (ms).", 50.0, 10000.0),
        Param("barge_in_double_talk", 0.5,
              "With the echo canceller converged, a turn whose opening speech the canceller heard as a voice over "
              "the robot's for at least this share (/voice_activity double_talk) stops the robot at once, without "
              "barge_in_echo_free_ms; 0: never.", 0.0, 1.0),
        Param("llm_url", "", "OpenAI-compatible chat endpoint (e.g. http://localhost:8080/v1); empty: embedded only.",
              when=CONFIGURE),
        Param("llm_model", "", "Model name sent to the chat endpoint.", when=CONFIGURE),
        Param("llm_timeout_s", 1.5, "Seconds to wait for the endpoint (connect, each streamed piece) before the "
              "embedded reply is spoken instead.", 0.1, 60.0, when=CONFIGURE),
        Param("llm_intents", ["unknown", "small_talk"],
              "Intents whose replies come from the language model; commands always stay embedded."),
        Param("llm_max_words", 60, "Cap on the words of a language-model reply.", 1, 500, when=CONFIGURE),
        Param("llm_deadline_s", 10.0, "Longest a language-model reply may stream, in all.", 1.0, 120.0,
              when=CONFIGURE),
        Param("prepare_replies", True,
              "At the user's first pause, send the likely reply to be synthesized (ACTION_PREPARE) and ask the "
              "language model, so the answer is ready when the turn ends; false: only once the turn is over."),
        Param("continue_within_ms", 1500.0,
              "A turn whose speech begins this soon after the previous turn's ended, before the user could have "
              "heard the reply to it, goes on from it: the reply answers both as one sentence; 0: never.",
              0.0, 10000.0),
        Param("echo_overlap", 0.6,
              "Share of heard words found in the robot's own reply above which they count as its echo.", 0.0, 1.0),
    )

    def __init__(self, **kwargs) -> None:
        super().__init__("dialogue", **kwargs)
        self.manager: DialogueManager | None = None
        self.llm: LlmWorker | None = None
        self._timer = None  # the decision tick, while there is something to decide or watch
        self._timer_lock = threading.Lock()
        self._llm_events: collections.deque[LlmEvent] = collections.deque()
        self._llm_wake = None
        self._last_state: tuple | None = None

    def _config(self) -> DialogueConfig:
        return DialogueConfig(
            emotion_wait_s=self.param("emotion_wait_ms") / 1000, barge_in=self.param("barge_in"),
            barge_in_sustained_s=self.param("barge_in_sustained_ms") / 1000, echo_overlap=self.param("echo_overlap"),
            barge_in_echo_free_s=self.param("barge_in_echo_free_ms") / 1000,
            barge_in_double_talk=self.param("barge_in_double_talk"),
            llm=bool(self.param("llm_url")), llm_intents=tuple(self.param("llm_intents")),
            prepare_replies=self.param("prepare_replies"),
            continue_within_s=self.param("continue_within_ms") / 1000)

    def configure_stage(self) -> None:
        policy = Policy(self.param("intents_path") or default_intents_path(), self.param("intent_threshold"),
                        use_embeddings=self.param("use_embeddings"))
        self.health.set_value("intent_matcher", policy.matcher.backend)
        if self.param("use_embeddings") and policy.matcher.backend != "minilm":
            self.health.problem("model_errors", "MiniLM embeddings unavailable: matching intents by words")
        self.manager = DialogueManager(policy, self._config(), self.health)
        if self.param("llm_url"):
            config = LlmConfig(self.param("llm_url"), self.param("llm_model"), self.param("llm_timeout_s"),
                               deadline_s=self.param("llm_deadline_s"))
            # The model's sentences come back on the executor's thread: the dialogue is only touched from there.
            self._llm_wake = self.create_guard_condition(self._take_llm_events)
            self.llm = LlmWorker(config, self._llm_event, self.param("llm_max_words"))
            self.llm.warm_up(self.manager.conversation.history())
            self.health.set_value("llm", self.param("llm_url"))
        self.request_pub = self.publisher(topics.SPEECH_REQUEST)
        self.state_pub = self.publisher(topics.DIALOGUE_STATE)
        self.subscribe(topics.VOICE_ACTIVITY, self.on_voice_activity)
        self.subscribe(topics.TRANSCRIPT, self.on_transcript)
        self.subscribe(topics.EMOTION, self.on_emotion)
        self.subscribe(topics.SPEECH_PROGRESS, self.on_progress)
        self.subscribe(topics.ECHO_CANCELLED, self.on_echo_cancelled)
        self.subscribe(topics.ECHO_LEARNING, self.on_echo_learning)

    def parameters_changed(self) -> None:
        if self.manager is not None:
            self.manager.configure(self._config())

    def activate_stage(self) -> None:
        self._last_state = None
        # Decisions are event driven (final transcript, emotion); the tick only ends the wait for an emotion that
        # does not come and watches for sustained barge-in speech, so 20 Hz is enough, and it exists only while
        # something is pending or the robot speaks: idle listening costs no ticks.
        self._wake()

    def deactivate_stage(self) -> None:
        self._sleep()

    def cleanup_stage(self) -> None:
        self.deactivate_stage()
        if self.llm is not None:
            self.llm.stop()
        self.llm = None
        if self._llm_wake is not None:
            self.destroy_guard_condition(self._llm_wake)
            self._llm_wake = None
        self._last_state: tuple | None = None
        self.manager = None

    def _wake(self) -> None:
        with self._timer_lock:
            if self._timer is None:
                self._timer = self.steady_timer(TICK_S, self._tick)

    def _sleep(self) -> None:
        # Destroyed, not cancelled: the executor skips a destroyed timer it found ready, where calling a cancelled
        # one raises and ends its spin.
        with self._timer_lock:
            if self._timer is not None:
                self.destroy_timer(self._timer)
                self._timer = None

    # -- inputs ----------------------------------------------------------------------------------------------
    def on_voice_activity(self, msg) -> None:
        if self.turn_ok(msg.turn_id):
            start, end = msg.event == msg.SPEECH_START, msg.event == msg.SPEECH_END
            self._handle(self.manager.voice_activity(msg.turn_id, start, end, time.monotonic(),
                                                     paused=msg.event == msg.SPEECH_ONGOING,
                                                     double_talk=msg.double_talk,
                                                     at_s=_seconds(msg.onset if start else msg.speech_end)))

    def on_transcript(self, msg) -> None:
        if self.turn_ok(msg.turn_id):
            self._handle(self.manager.transcript(msg.turn_id, msg.text, msg.is_final, time.monotonic(),
                                                   msg.voice_id))

    def on_emotion(self, msg) -> None:
        if not self.turn_ok(msg.turn_id):
            return
        if not msg.is_final:
            self._handle(self.manager.emotion_so_far(msg.turn_id, msg.label))
            return
        self._handle(self.manager.emotion(msg.turn_id, msg.label, msg.mood_valence, time.monotonic(),
                                            msg.voice_id))

    def on_echo_cancelled(self, msg) -> None:
        self.manager.echo_cancelled(msg.data)
        self.health.set_value("microphone_echo_free", msg.data)

    def on_echo_learning(self, msg) -> None:
        self.manager.echo_learning(msg.data)
        self.health.set_value("microphone_echo_learning", msg.data)

    def on_progress(self, msg) -> None:
        self._handle(self.manager.progress(msg.turn_id, PROGRESS.get(msg.state, ""), msg.spoken_text,
                                           _seconds(msg.header.stamp), msg.text))

    def _tick(self) -> None:
        if not self.active or self.manager is None:
            return
        self._handle(self.manager.tick(time.monotonic()))
        if not self.manager.busy:
            self._sleep()

    def _llm_event(self, event: LlmEvent) -> None:
        """From the language-model worker's thread: queue it for the executor."""
        self._llm_events.append(event)
        if self._llm_wake is not None:
            self._llm_wake.trigger()

    def _take_llm_events(self) -> None:
        while self._llm_events and self.manager is not None:
            event = self._llm_events.popleft()
            if event.kind == "sentence":
                if event.ms:
                    self.health.timing("llm_first_sentence", event.ms)
                out = self.manager.llm_sentence(event.job_id, event.text)
            elif event.kind == "failed":
                self.get_logger().warn(f"language model failed: {event.text}", throttle_duration_sec=10.0)
                out = self.manager.llm_failed(event.job_id, event.text)
            elif event.kind == "cancelled":
                self.health.timing("llm_abort", event.ms)  # from the cancel to the stream closed
                out = []
            else:
                self._llm_timings(event.timings or {})
                out = self.manager.llm_done(event.job_id)
            self._handle(out)

    def _llm_timings(self, timings: dict) -> None:
        """The server's own account of a reply (llama.cpp sends it): generation speed, and how many prompt tokens
        it had to process (the rest came from its prompt cache)."""
        if "predicted_per_second" in timings:
            self.health.set_value("llm_tokens_per_s", round(float(timings["predicted_per_second"]), 1))
        if "prompt_n" in timings:
            self.health.set_value("llm_prompt_tokens_last", int(timings["prompt_n"]))
            self.health.set_value("llm_cached_tokens_last", int(timings.get("cache_n", 0)))
            self.health.timing("llm_prompt", float(timings.get("prompt_ms", 0.0)))  # the new words' share
        self.health.count("llm_replies")

    # -- outputs ---------------------------------------------------------------------------------------------
    def _handle(self, out: list[Out]) -> None:
        """Send what the dialogue decided, publish its state, and keep the tick while it has work."""
        for o in out:
            if isinstance(o, Say):
                action = SpeechRequest.ACTION_PREPARE if o.prepare else SpeechRequest.ACTION_SAY
                self.request_pub.publish(SpeechRequest(
                    header=self.header(), turn_id=o.turn_id, action=action, text=o.text,
                    expression=o.expression, style=o.style, rate=o.rate, volume=o.volume, interruptible=True))
            elif isinstance(o, Stop):
                self.request_pub.publish(SpeechRequest(header=self.header(), turn_id=o.turn_id,
                                                       action=SpeechRequest.ACTION_STOP))
            elif isinstance(o, LlmJob):
                self.llm.submit(o.job_id, o.messages)
            elif isinstance(o, CancelLlm) and self.llm is not None:
                self.llm.cancel(o.job_id)
            elif isinstance(o, WarmLlm) and self.llm is not None:
                self.llm.warm_up(o.messages)
        self._publish_state()  # the first after activation too, for late joiners of the latched topic
        if self.manager.busy:
            self._wake()

    def _publish_state(self) -> None:
        s = self.manager.snapshot()
        key = (s.state, s.turn_id, s.user_text, s.robot_text)
        if key == self._last_state:
            return
        self._last_state = key
        self.state_pub.publish(DialogueState(
            header=self.header(), state=int(s.state), turn_id=s.turn_id, user_text=s.user_text,
            user_emotion=s.user_emotion, user_mood_valence=s.user_mood_valence, robot_text=s.robot_text,
            intent=s.intent))
        self.health.set_value("state", State(s.state).name.lower())


def main(args: list[str] | None = None) -> None:
    run(DialogueNode, args)
