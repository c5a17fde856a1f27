"""Every topic of the graph: name, message type and QoS class, declared once.

Nodes, the launch file, `optimus-voice up`, bags and tests all read this table, so a topic cannot be renamed in one
place and forgotten in another. Types are given as strings to keep this module free of rclpy.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class QosClass(Enum):
    """How a topic's QoS is chosen (see optimus_voice.contract.qos for the profiles)."""

    SENSOR = "sensor"          # live microphone audio: best effort, 1 s deep; a lost frame is never resent
    STREAM = "stream"          # synthesized audio: reliable and deep, every frame of a reply must be played
    EVENTS = "events"          # transcripts, emotions, requests, progress: reliable, keep last 50
    LATCHED = "latched"        # state: reliable, transient local, depth 1 so late joiners get the current state
    ACTUATOR = "actuator"      # steady-rate actuator commands: reliable, keep last 5


@dataclass(frozen=True)
class Topic:
    name: str  # the name in the root namespace (bags, tools)
    type: str  # "package/msg/Type"
    qos: QosClass
    summary: str
    global_name: bool = False  # the same topic whatever the namespace (/diagnostics)
    array_only: bool = False   # published only with a microphone array (capture's mic_positions)

    @property
    def relative(self) -> str:
        """The name nodes use: relative, so that a stack launched under a namespace keeps its topics inside it."""
        return self.name if self.global_name else self.name.lstrip("/")


AUDIO_IN = Topic("/audio/in", "optimus_voice_msgs/msg/AudioFrame", QosClass.SENSOR, "microphone audio, 16 kHz mono")
AUDIO_ARRAY = Topic("/audio/in/array", "optimus_voice_msgs/msg/AudioFrame", QosClass.SENSOR,
                    "every microphone of an array, 16 kHz, channels interleaved in mic_positions order",
                    array_only=True)
VOICE_DIRECTION = Topic("/voice_direction", "optimus_voice_msgs/msg/VoiceDirection", QosClass.EVENTS,
                        "where the user's voice comes from, per turn, in the microphone array's frame",
                        array_only=True)
ECHO_CANCELLED = Topic("/audio/in/echo_cancelled", "std_msgs/msg/Bool", QosClass.LATCHED,
                       "whether /audio/in is free of the robot's own voice (the echo canceller has converged)")
ECHO_LEARNING = Topic("/audio/in/echo_learning", "std_msgs/msg/Bool", QosClass.LATCHED,
                      "whether the echo canceller is still learning the room (it started from nothing and has not "
                      "stayed converged for 10 s of the robot's voice): the TTS node plays its learning sound, and "
                      "speech over the robot needs words to stop it unless the canceller heard it as double talk")
USER_SPEECH = Topic("/audio/user_speech", "optimus_voice_msgs/msg/AudioFrame", QosClass.STREAM,
                    "the user's speech, turn by turn (frames carry the turn id): /audio/in cut by the voice activity")
VOICE_ACTIVITY = Topic("/voice_activity", "optimus_voice_msgs/msg/VoiceActivity", QosClass.EVENTS,
                       "user speech start/ongoing/end with turn id")
TRANSCRIPT = Topic("/transcript", "optimus_voice_msgs/msg/Transcript", QosClass.EVENTS,
                   "partial and final transcripts per turn")
EMOTION = Topic("/emotion", "optimus_voice_msgs/msg/Emotion", QosClass.EVENTS, "user emotion per turn and mood")
DIALOGUE_STATE = Topic("/dialogue/state", "optimus_voice_msgs/msg/DialogueState", QosClass.LATCHED,
                       "idle/listening/thinking/speaking")
SPEECH_REQUEST = Topic("/speech/request", "optimus_voice_msgs/msg/SpeechRequest", QosClass.EVENTS,
                       "what the robot should say, or stop")
SPEECH_PROGRESS = Topic("/speech/progress", "optimus_voice_msgs/msg/SpeechProgress", QosClass.EVENTS,
                        "started/speaking/done/interrupted with the words actually played")
SPEECH_VISEMES = Topic("/speech/visemes", "optimus_voice_msgs/msg/VisemeSequence", QosClass.EVENTS,
                       "lip-sync visemes of the robot's speech, aligned to its audio samples")
AUDIO_OUT = Topic("/audio/out", "optimus_voice_msgs/msg/AudioFrame", QosClass.STREAM,
                  "synthesized speech for the speaker actuator")
AUDIO_PLAYED = Topic("/audio/out/played", "optimus_voice_msgs/msg/AudioFrame", QosClass.STREAM,
                     "the audio the speaker actually played, stamped with when it played: the echo reference")
PLAYBACK = Topic("/audio/out/playback", "optimus_voice_msgs/msg/PlaybackStatus", QosClass.EVENTS,
                 "samples actually played by the speaker, per turn")
FACE = Topic("/face/expression", "optimus_voice_msgs/msg/FaceExpression", QosClass.ACTUATOR,
             "face actuator command: expression, blinks, visemes")
FACE_MARKERS = Topic("/face/markers", "visualization_msgs/msg/MarkerArray", QosClass.ACTUATOR,
                     "rviz view of the face, the user's emotion and the last transcript")
VOICES_TRACKED = Topic("/voices/tracked", "optimus_voice_msgs/msg/VoiceIds", QosClass.LATCHED,
                        "the voices heard in this session (REP-155's /humans/voices/tracked)")
DIAGNOSTICS = Topic("/diagnostics", "diagnostic_msgs/msg/DiagnosticArray", QosClass.EVENTS,
                    "health and timings of every node", global_name=True)

# Per voice, as REP-155 lays out /humans/voices/<id>/...: `of_voice` gives the topic of one voice id.
VOICE_SPEECH = Topic("/voices/{voice}/speech", "optimus_voice_msgs/msg/Transcript", QosClass.EVENTS,
                     "what this voice said: its partial and final transcripts")
VOICE_IS_SPEAKING = Topic("/voices/{voice}/is_speaking", "std_msgs/msg/Bool", QosClass.LATCHED,
                          "whether this voice is speaking now")


def of_voice(template: Topic, voice_id: str) -> Topic:
    return Topic(template.name.format(voice=voice_id), template.type, template.qos, template.summary)


def in_namespace(topic: Topic, namespace: str) -> str:
    """The topic's full name for a stack launched under `namespace` ("" or "/": the root)."""
    ns = namespace.strip("/")
    return topic.name if topic.global_name or not ns else f"/{ns}{topic.name}"


ALL = (AUDIO_IN, AUDIO_ARRAY, ECHO_CANCELLED, ECHO_LEARNING, USER_SPEECH, VOICE_ACTIVITY, VOICE_DIRECTION,
       TRANSCRIPT, EMOTION, DIALOGUE_STATE, SPEECH_REQUEST, SPEECH_PROGRESS, SPEECH_VISEMES, AUDIO_OUT, AUDIO_PLAYED,
       PLAYBACK, FACE, FACE_MARKERS, VOICES_TRACKED, DIAGNOSTICS)
BY_NAME = {t.name: t for t in ALL}
