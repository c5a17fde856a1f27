"""Face node: dialogue state, the user's emotion and the reply's expression -> /face/expression, /face/markers."""

from __future__ import annotations

import time

from visualization_msgs.msg import Marker, MarkerArray

from optimus_voice.contract import topics
from optimus_voice.contract.stamps import from_time, to_time
from optimus_voice.contract.states import State
from optimus_voice.nodes.base import VoiceNode, run
from optimus_voice.nodes.params import CONFIGURE, Param
from optimus_voice.speaking.face import COLOURS, FaceFrame, FaceMixer, LipSync, TimedViseme, marker_lines
from optimus_voice_msgs.msg import FaceExpression, Viseme


class FaceNode(VoiceNode):
    PARAMS = (
        Param("rate_hz", 30.0, "Rate of face actuator commands while the face moves (speech, blinks, blending).",
              1.0, 120.0, when=CONFIGURE),
        Param("still_rate_hz", 5.0, "Rate of face actuator commands while the face is still.", 0.5, 120.0,
              when=CONFIGURE),
        Param("markers_rate_hz", 5.0, "Rate of rviz markers.", 0.5, 60.0, when=CONFIGURE),
        Param("smoothing_s", 0.25, "Time constant of expression transitions (s).", 0.01, 10.0),
        Param("blink_every_s", 4.0, "Mean interval between blinks (s).", 0.5, 60.0),
        Param("frame_id", "head", "TF frame of the face: of its commands and of the rviz markers.", when=CONFIGURE),
        Param("viseme_horizon_s", 0.5, "How far ahead each command lists upcoming visemes (s).", 0.0, 5.0),
    )

    def __init__(self, **kwargs) -> None:
        super().__init__("face", **kwargs)
        self._face_timers: list = []  # not `_timers`: rclpy.Node keeps its own timers there
        self.mixer: FaceMixer | None = None
        self._fast = True

    def configure_stage(self) -> None:
        self.mixer = FaceMixer(self.param("smoothing_s"), self.param("blink_every_s"))
        self.user_text = ""
        self.robot_text = ""
        self.user_emotion = ("neutral", 0.0, 0.0)
        self._last: FaceFrame | None = None
        self._mouth = "sil"
        self.face_pub = self.publisher(topics.FACE)
        self.marker_pub = self.publisher(topics.FACE_MARKERS)
        self.subscribe(topics.DIALOGUE_STATE, self.on_state)
        self.subscribe(topics.EMOTION, self.on_emotion)
        self.subscribe(topics.SPEECH_REQUEST, self.on_request)
        self.subscribe(topics.TRANSCRIPT, self.on_transcript)
        self.lips = LipSync()
        self.subscribe(topics.SPEECH_VISEMES, self.on_visemes)
        self.subscribe(topics.SPEECH_PROGRESS, self.on_progress)

    def parameters_changed(self) -> None:
        if self.mixer is not None:
            self.mixer.smoothing_s = self.param("smoothing_s")
            self.mixer.blink_every_s = self.param("blink_every_s")

    def activate_stage(self) -> None:
        self._face_timers = [self.steady_timer(1.0 / self.param("rate_hz"), self.publish_face),
                             self.steady_timer(1.0 / self.param("markers_rate_hz"), self.publish_markers)]
        self._fast = True

    def _set_pace(self, fast: bool) -> None:
        """Command the face at rate_hz while it moves, at still_rate_hz (far less CPU) while it does not."""
        if fast == self._fast or not self._face_timers:
            return
        self._fast = fast
        timer = self._face_timers[0]
        timer.timer_period_ns = 1e9 / self.param("rate_hz" if fast else "still_rate_hz")
        if fast:  # the next command goes out within one fast period, not at the end of a still one
            timer.reset()

    def deactivate_stage(self) -> None:
        for t in self._face_timers:
            self.destroy_timer(t)
        self._face_timers = []

    def cleanup_stage(self) -> None:
        self.deactivate_stage()

    def on_state(self, msg) -> None:
        self.mixer.state = State(msg.state)
        self.mixer.turn_id = msg.turn_id
        self.robot_text = msg.robot_text
        self._set_pace(fast=True)

    def on_emotion(self, msg) -> None:
        self.mixer.user_emotion = msg.label
        self.user_emotion = (msg.label, msg.valence, msg.arousal)
        self._set_pace(fast=True)

    def on_request(self, msg) -> None:
        if msg.action == msg.ACTION_SAY:
            self.mixer.reply_expression = msg.expression or "neutral"
            self._set_pace(fast=True)

    def on_transcript(self, msg) -> None:
        self.user_text = msg.text

    def on_visemes(self, msg) -> None:
        self.lips.add([TimedViseme(msg.turn_id, v.viseme, v.phonemes, from_time(v.start),
                                   from_time(v.start) + int(v.duration * 1e9), v.sample_index) for v in msg.visemes])
        self.health.count("visemes_received", len(msg.visemes))
        self._set_pace(fast=True)

    def on_progress(self, msg) -> None:
        if msg.state == msg.INTERRUPTED:  # the mouth stops with the voice
            self.lips.drop(msg.turn_id)

    def publish_face(self) -> None:
        t = time.monotonic()
        f = self.mixer.step(t)
        now = self.now_ns()
        visemes = [Viseme(viseme=v.viseme, phonemes=v.phonemes, start=to_time(v.start_ns),
                          duration=(v.end_ns - v.start_ns) / 1e9, sample_index=v.sample_index)
                   for v in self.lips.window(now, self.param("viseme_horizon_s"))]
        self._set_pace(fast=bool(visemes) or self.mixer.moving(t, 1.0 / self.param("still_rate_hz")))
        self._mouth = self.lips.current(now)
        self.face_pub.publish(FaceExpression(
            header=self.header(now, self.param("frame_id")), turn_id=self.mixer.turn_id, expression=f.expression,
            valence=f.valence, arousal=f.arousal, intensity=f.intensity, eyelid_openness=f.eyelid_openness,
            visemes=visemes))
        self._last = f

    def publish_markers(self) -> None:
        f = self._last
        if f is None:
            return
        header = self.header(frame_id=self.param("frame_id"))
        r, g, b = COLOURS.get(f.expression, (0.9, 0.9, 0.9))
        head = Marker(header=header, ns="face", id=0, type=Marker.SPHERE, action=Marker.ADD)
        head.scale.x = head.scale.y = head.scale.z = 0.25
        head.color.r, head.color.g, head.color.b, head.color.a = r, g, b, 0.4 + 0.6 * f.intensity
        lines = marker_lines(f, self._mouth, self.mixer.state, self.user_emotion, self.user_text, self.robot_text)
        markers = [head]
        for i, line in enumerate(lines):
            m = Marker(header=header, ns="face_text", id=i + 1, type=Marker.TEXT_VIEW_FACING, action=Marker.ADD,
                       text=line)
            m.pose.position.z = 0.25 + 0.08 * (len(lines) - i)
            m.scale.z = 0.06
            m.color.r = m.color.g = m.color.b = m.color.a = 1.0
            markers.append(m)
        self.marker_pub.publish(MarkerArray(markers=markers))


def main(args: list[str] | None = None) -> None:
    run(FaceNode, args)
