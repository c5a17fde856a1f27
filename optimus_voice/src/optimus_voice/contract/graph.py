"""The node graph, declared once.

`launch/voice.launch.py` (a real ROS 2 launch file) and `optimus-voice up` (the same graph without ros2 launch)
are both built from this table: which executables run, under which names, with which config file, which launch
arguments remap their topics onto the robot's actuators, and which parameters the arguments set.
No rclpy or launch import here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from optimus_voice.contract import topics

PACKAGE = "optimus_voice"


@dataclass(frozen=True)
class LaunchArg:
    name: str
    default: str
    description: str
    type: type = str  # type of the parameters the argument sets


@dataclass(frozen=True)
class NodeSpec:
    name: str                 # node name (also the config file's top-level key)
    executable: str           # console script installed to lib/optimus_voice/
    config: str               # parameter file in config/
    summary: str
    # topic -> launch argument whose value the topic is remapped to
    remap_args: dict[str, str] = field(default_factory=dict)
    # parameter -> launch argument whose value sets it
    param_args: dict[str, str] = field(default_factory=dict)
    # launch argument that must be "true" for the node to run (None: always runs)
    enabled_by: str | None = None


ARGS = (
    LaunchArg("mic_source", "device", "Microphone source: 'device' (PortAudio), 'file' (a WAV/FLAC played in real "
              "time) or 'bag' (the /audio/in frames of a rosbag folder, with their recorded timing)."),
    LaunchArg("mic_device", "", "PortAudio input device, by name substring or index; empty: the default device."),
    LaunchArg("mic_file", "", "Audio file or bag folder played as the microphone when mic_source is 'file' or 'bag'."),
    LaunchArg("mic_loop", "false", "Loop the microphone file or bag.", bool),
    LaunchArg("audio_out_topic", topics.AUDIO_OUT.name,
              "Topic the robot's speech audio is published on; remap onto the robot's speaker actuator topic."),
    LaunchArg("use_audio_out", "true",
              "Run our speaker node (PortAudio or WAV). Set false when the robot's own audio actuator subscribes "
              "to audio_out_topic.", bool),
    LaunchArg("audio_out_wav", "", "Also write the robot's speech to this WAV file."),
    LaunchArg("face_topic", topics.FACE.name, "Topic of face actuator commands; remap onto the robot's face topic."),
    LaunchArg("config_dir", "", "Folder with the node parameter files; empty: the installed config/ of the package."),
)
ARG_DEFAULTS = {a.name: a.default for a in ARGS}

NODES = (
    NodeSpec("capture", "capture_node", "capture.yaml", "microphone (device, file or bag) -> /audio/in",
             param_args={"source": "mic_source", "device": "mic_device", "file_path": "mic_file",
                         "loop": "mic_loop"}),
    NodeSpec("asr", "asr_node", "asr.yaml", "/audio/in -> voice activity, transcripts, each turn's audio"),
    NodeSpec("emotion", "emotion_node", "emotion.yaml", "turn audio + transcripts -> the user's emotion per turn"),
    NodeSpec("dialogue", "dialogue_node", "dialogue.yaml", "turn-taking and the reply policy -> speech requests"),
    NodeSpec("tts", "tts_node", "tts.yaml", "speech requests -> expressive speech audio and speech progress",
             remap_args={topics.AUDIO_OUT.name: "audio_out_topic"}),
    NodeSpec("audio_out", "audio_out_node", "audio_out.yaml", "speech audio -> speaker (PortAudio or WAV)",
             remap_args={topics.AUDIO_OUT.name: "audio_out_topic"},
             param_args={"wav_path": "audio_out_wav"}, enabled_by="use_audio_out"),
    NodeSpec("face", "face_node", "face.yaml", "dialogue, emotion and speech -> face expression and visemes",
             remap_args={topics.FACE.name: "face_topic"}),
)
BY_NAME = {n.name: n for n in NODES}


ARG_TYPES = {a.name: a.type for a in ARGS}


def coerce(arg: str, value: str) -> bool | str:
    """A launch-argument string as the typed parameter value it sets."""
    if ARG_TYPES[arg] is bool:
        if value.strip().lower() not in ("true", "false"):
            raise ValueError(f"launch argument {arg} must be true or false, not {value!r}")
        return value.strip().lower() == "true"
    return value


def resolve(spec: NodeSpec, args: dict[str, str]) -> tuple[dict[str, str], dict[str, object], bool]:
    """Remaps, parameter overrides and whether the node runs, for the given launch-argument values."""
    values = {**ARG_DEFAULTS, **args}
    remaps = {topic: values[arg] for topic, arg in spec.remap_args.items() if values[arg] != topic}
    params = {p: coerce(arg, values[arg]) for p, arg in spec.param_args.items()}
    enabled = spec.enabled_by is None or str(values[spec.enabled_by]).lower() == "true"
    return remaps, params, enabled
