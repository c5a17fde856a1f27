"""Emotion node: transcripts -> /emotion per turn (partial while the user speaks, final per turn) and mood."""

from __future__ import annotations

from optimus_voice import topics
from optimus_voice.engines.emotion import LABELS, Mood, TextEmotion
from optimus_voice.nodes.base import Param, VoiceNode, run
from optimus_voice_msgs.msg import Emotion


class EmotionNode(VoiceNode):
    PARAMS = (
        Param("mood_alpha", 0.3, "Smoothing of the user's mood across final turns (0..1, higher follows faster)."),
        Param("partials", True, "Publish partial estimates from partial transcripts."),
    )

    def __init__(self) -> None:
        super().__init__("emotion")
        self.text_model: TextEmotion | None = None

    def configure_stage(self) -> None:
        self.text_model = TextEmotion()
        self.mood = Mood(self.param("mood_alpha"))
        self.pub = self.publisher(topics.EMOTION)
        self.subscribe(topics.TRANSCRIPT, self.on_transcript)

    def cleanup_stage(self) -> None:
        self.text_model = None

    def on_transcript(self, msg) -> None:
        if not msg.is_final and not self.param("partials"):
            return
        est = self.text_model.estimate(msg.text)
        if msg.is_final:
            mood_v, mood_a = self.mood.update(est.valence, est.arousal)
        else:
            mood_v, mood_a = self.mood.valence, self.mood.arousal
        self.pub.publish(Emotion(
            header=self.header(), turn_id=msg.turn_id, label=est.label, labels=list(LABELS),
            scores=[est.scores[k] for k in LABELS], valence=est.valence, arousal=est.arousal,
            modality=Emotion.MODALITY_TEXT, is_final=msg.is_final, mood_valence=mood_v, mood_arousal=mood_a,
            inference_ms=est.inference_ms))
        self.health.timing("text_inference", est.inference_ms)
        self.health.count("finals" if msg.is_final else "partials")


def main(args: list[str] | None = None) -> None:
    run(EmotionNode, args)
