"""Emotion node: the user's voice (/audio/user_speech, with /voice_activity) and words (/transcript) -> /emotion.

Per turn: partial estimates while the user speaks, one final estimate fusing voice and words, and the user's mood
across turns (feeling.turns.TurnEmotions). The voice is estimated on a worker thread as soon as the ASR announces
a pause, so it is usually ready when the final transcript comes. The voice comes from the ASR, cut to the user's
turns: the node costs nothing while nobody speaks.
"""

from __future__ import annotations

from optimus_voice.common.models import ModelMissingError
from optimus_voice.common.worker import Worker
from optimus_voice.contract import topics
from optimus_voice.contract.audio import AudioFormatError, decode_pcm
from optimus_voice.contract.health import Level
from optimus_voice.feeling.acoustic import AcousticEmotion
from optimus_voice.feeling.emotions import LABELS
from optimus_voice.feeling.text_emotion import TextEmotion
from optimus_voice.feeling.turns import TurnEmotions, TurnEstimate
from optimus_voice.nodes.base import VoiceNode, run
from optimus_voice.nodes.params import CONFIGURE, READ_ONLY, Param
from optimus_voice_msgs.msg import Emotion

MODALITIES = {"acoustic": Emotion.MODALITY_ACOUSTIC, "text": Emotion.MODALITY_TEXT, "fused": Emotion.MODALITY_FUSED}


class EmotionNode(VoiceNode):
    PARAMS = (
        Param("mood_alpha", 0.3, "Smoothing of the user's mood across final turns (higher follows faster).", 0.0, 1.0),
        Param("partials", True, "Publish partial estimates from partial transcripts."),
        Param("acoustic", True, "Use the voice (our speech-emotion model) as well as the words.", when=CONFIGURE),
        Param("model_path", "", "Emotion model (.onnx); empty: models/emotion/emotion_mlp.onnx of the package.",
              when=READ_ONLY),
        Param("text_weight", 0.8, "Weight of the words against the voice, scaled by how emotional the words are.",
              0.0, 5.0),
        Param("buffer_s", 30.0, "Seconds of the user's speech kept for the acoustic model.", 1.0, 300.0,
              when=CONFIGURE),
    )

    def __init__(self, **kwargs) -> None:
        super().__init__("emotion", **kwargs)
        self.engine: TurnEmotions | None = None
        self._worker: Worker | None = None

    def configure_stage(self) -> None:
        acoustic = None
        if self.param("acoustic"):
            try:
                acoustic = AcousticEmotion(self.param("model_path"))
            except (ModelMissingError, OSError) as exc:
                self.get_logger().error(f"acoustic emotion model unavailable, using the words only: {exc}")
                self.health.problem("model_errors", f"acoustic model unavailable: {exc}", Level.WARN)
        self.engine = TurnEmotions(TextEmotion(), acoustic, mood_alpha=self.param("mood_alpha"),
                                   text_weight=self.param("text_weight"), buffer_s=self.param("buffer_s"),
                                   health=self.health)
        self.health.set_value("modality", "fused" if acoustic else "text")
        self.pub = self.publisher(topics.EMOTION)
        self.subscribe(topics.USER_SPEECH, self.on_audio)
        self.subscribe(topics.VOICE_ACTIVITY, self.on_voice_activity)
        self.subscribe(topics.TRANSCRIPT, self.on_transcript)
        self._worker = Worker("emotion", self._work, self._work_failed)

    def parameters_changed(self) -> None:
        if self.engine is not None:
            self.engine.mood.alpha = self.param("mood_alpha")
            self.engine.text_weight = self.param("text_weight")

    def cleanup_stage(self) -> None:
        if self._worker is not None:
            self._worker.stop()
        self._worker = None
        self.engine = None

    # -- inputs ----------------------------------------------------------------------------------------------
    def on_audio(self, msg) -> None:
        if not self.engine.hears_voice:
            return
        try:
            samples = decode_pcm(msg.encoding, msg.sample_rate, msg.channels, bytes(msg.data))
        except AudioFormatError as exc:
            self.health.problem("rejected_frames", f"rejected audio frame: {exc}")
            return
        self.engine.add_audio(msg.first_sample_index, samples)

    def on_voice_activity(self, msg) -> None:
        # At a pause (the recognizer starts its speculative final now) and at the end, estimate the voice at once.
        at_pause = msg.event in (msg.SPEECH_ONGOING, msg.SPEECH_END)
        if self.engine.voice_activity(msg.turn_id, msg.start_sample_index,
                                      msg.end_sample_index if at_pause else None, msg.event == msg.SPEECH_END):
            self._worker.put(("voice", msg.turn_id, msg.end_sample_index, ""))

    def on_transcript(self, msg) -> None:
        if not msg.is_final and not self.param("partials"):
            return
        if self.engine.knows(msg.turn_id):  # the voice counts: estimate off the executor
            self._worker.put(("final" if msg.is_final else "partial", msg.turn_id, msg.text, msg.voice_id))
        else:
            self._publish(self.engine.estimate(msg.turn_id, msg.text, msg.is_final, msg.voice_id))

    # -- work ------------------------------------------------------------------------------------------------
    def _work(self, job: tuple[str, int, object, str]) -> None:
        kind, turn_id, arg, voice_id = job  # arg: the transcript, or for "voice" the index where speech stopped
        if kind == "voice":
            self.engine.voice(turn_id, arg)
        elif kind == "final" or not self._worker.pending():  # a newer request is waiting: skip this partial
            self._publish(self.engine.estimate(turn_id, arg, kind == "final", voice_id))

    def _work_failed(self, exc: Exception) -> None:
        self.get_logger().error(f"emotion estimate failed: {exc}")
        self.health.problem("engine_errors", f"emotion estimate failed: {exc}", Level.ERROR)

    def _publish(self, turn: TurnEstimate) -> None:
        est = turn.estimate
        self.pub.publish(Emotion(
            header=self.header(), turn_id=turn.turn_id, voice_id=turn.voice_id, label=est.label, labels=list(LABELS),
            scores=[est.scores[k] for k in LABELS], valence=est.valence, arousal=est.arousal,
            modality=MODALITIES[turn.modality], is_final=turn.final, mood_valence=turn.mood_valence,
            mood_arousal=turn.mood_arousal, inference_ms=est.inference_ms))
        self.health.count("finals" if turn.final else "partials")


def main(args: list[str] | None = None) -> None:
    run(EmotionNode, args)
