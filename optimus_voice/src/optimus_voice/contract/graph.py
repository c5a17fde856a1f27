"""The node graph, declared once.

`launch/voice.launch.py` (a real ROS 2 launch file) and `optimus-voice up` (the same graph without ros2 launch)
are both built from `plan()`: which executables run, under which names and namespace, with which config file,
which launch arguments remap their topics onto the robot's actuators, which parameters the arguments set, and the
lifecycle manager that brings the nodes up in ACTIVATION_ORDER. No rclpy or launch import here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from optimus_voice.contract import topics

PACKAGE = "optimus_voice"


@dataclass(frozen=True)
class LaunchArg:
    name: str
    default: str
    description: str
    type: type = str  # type of the parameters the argument sets
    choices: tuple[str, ...] = ()


def llm_url(values: dict[str, str]) -> str:
    """The dialogue's language-model endpoint for the `llm` argument: none, the local server, or the given URL."""
    llm = values["llm"].strip()
    if llm == "off":
        return ""
    if llm == "local":
        return f"http://127.0.0.1:{int(values['llm_port'])}/v1"
    if not llm.startswith(("http://", "https://")):
        raise ValueError(f"launch argument llm must be off, local or an http(s) URL, not {llm!r}")
    return llm


@dataclass(frozen=True)
class NodeSpec:
    name: str                 # node name (also the config file's top-level key)
    executable: str           # console script installed to lib/optimus_voice/
    config: str               # parameter file in config/
    summary: str
    # topic (its name in the root namespace) -> launch argument whose value the topic is remapped to
    remap_args: dict[str, str] = field(default_factory=dict)
    # parameter -> launch argument whose value sets it
    param_args: dict[str, str] = field(default_factory=dict)
    # (launch argument, values for which the node runs); None: always runs
    enabled_if: tuple[str, tuple[str, ...]] | None = None
    lifecycle: bool = True    # managed by the lifecycle manager
    # parameters computed from several launch arguments
    derived: Callable[[dict[str, str]], dict[str, object]] | None = None


ARGS = (
    LaunchArg("mic_source", "device", "Microphone source: 'device' (PortAudio), 'file' (a WAV/FLAC played in real "
              "time), 'bag' (the /audio/in frames of a rosbag folder, with their recorded timing) or 'none' (no "
              "capture node: /audio/in comes from the robot's own audio driver or `ros2 bag play`).",
              choices=("device", "file", "bag", "none")),
    LaunchArg("mic_device", "", "PortAudio input device, by name substring or index; empty: the default device."),
    LaunchArg("mic_file", "", "Audio file or bag folder played as the microphone when mic_source is 'file' or 'bag'."),
    LaunchArg("mic_loop", "false", "Loop the microphone file or bag.", bool),
    LaunchArg("audio_out_topic", topics.AUDIO_OUT.relative,
              "Topic the robot's speech audio is published on; remap onto the robot's speaker actuator topic."),
    LaunchArg("playback_topic", topics.PLAYBACK.relative,
              "Topic of the speaker's playback reports (what it actually played); remap onto the robot's own."),
    LaunchArg("echo_reference_topic", topics.AUDIO_PLAYED.relative,
              "The robot's own voice as the microphone's echo canceller takes it: what our speaker node played. "
              "With use_audio_out:=false, set it to audio_out_topic (its frames are stamped with when they play)."),
    LaunchArg("use_audio_out", "true",
              "Run our speaker node (PortAudio or WAV). Set false when the robot's own audio actuator subscribes "
              "to audio_out_topic.", bool),
    LaunchArg("audio_out_wav", "", "Also write the robot's speech to this WAV file."),
    LaunchArg("face_topic", topics.FACE.relative,
              "Topic of face actuator commands; remap onto the robot's face topic."),
    LaunchArg("face_frame", "head", "TF frame of the face (rviz markers are drawn in it)."),
    LaunchArg("asr_recognizer", "whisper", "Speech recognizer: 'whisper' (tiny.en) or 'moonshine' (Moonshine base: "
              "more accurate on unseen speakers, a little slower; README).", choices=("whisper", "moonshine")),
    LaunchArg("llm", "off", "Language-model replies for chat: 'off', 'local' (start the local llama.cpp server of the "
              "graph on llm_model) or the URL of an OpenAI-compatible server (http://host:port/v1)."),
    LaunchArg("llm_model", "", "GGUF model of the local server; empty: the packaged SmolLM2-135M-Instruct."),
    LaunchArg("llm_port", "8080", "Port of the local language-model server.", int),
    LaunchArg("namespace", "", "Namespace of every node and topic of the stack (/diagnostics stays global)."),
    LaunchArg("use_sim_time", "false", "Stamp with the /clock of a replayed bag (ros2 bag play --clock).", bool),
    LaunchArg("config_dir", "", "Folder with the node parameter files; empty: the installed config/ of the package."),
)
ARG_DEFAULTS = {a.name: a.default for a in ARGS}
ARG_TYPES = {a.name: a.type for a in ARGS}

NODES = (
    NodeSpec("capture", "capture_node", "capture.yaml", "microphone (device, file or bag) -> /audio/in",
             param_args={"source": "mic_source", "device": "mic_device", "file_path": "mic_file",
                         "loop": "mic_loop"}, enabled_if=("mic_source", ("device", "file", "bag")),
             remap_args={topics.AUDIO_PLAYED.name: "echo_reference_topic"}),
    NodeSpec("asr", "asr_node", "asr.yaml", "/audio/in -> voice activity, transcripts, each turn's audio",
             param_args={"recognizer": "asr_recognizer"}),
    NodeSpec("emotion", "emotion_node", "emotion.yaml", "turn audio + transcripts -> the user's emotion per turn"),
    NodeSpec("llm", "llm_node", "llm.yaml", "the local language-model server (llama.cpp) the dialogue asks",
             param_args={"model_path": "llm_model", "port": "llm_port"}, enabled_if=("llm", ("local",))),
    NodeSpec("dialogue", "dialogue_node", "dialogue.yaml", "turn-taking and the reply policy -> speech requests",
             derived=lambda values: {"llm_url": url} if (url := llm_url(values)) else {}),
    NodeSpec("tts", "tts_node", "tts.yaml", "speech requests -> expressive speech audio and speech progress",
             remap_args={topics.AUDIO_OUT.name: "audio_out_topic", topics.PLAYBACK.name: "playback_topic"}),
    NodeSpec("audio_out", "audio_out_node", "audio_out.yaml", "speech audio -> speaker (PortAudio or WAV)",
             remap_args={topics.AUDIO_OUT.name: "audio_out_topic", topics.PLAYBACK.name: "playback_topic"},
             param_args={"wav_path": "audio_out_wav"}, enabled_if=("use_audio_out", ("true",))),
    NodeSpec("face", "face_node", "face.yaml", "dialogue, emotion and speech -> face expression and visemes",
             remap_args={topics.FACE.name: "face_topic"}, param_args={"frame_id": "face_frame"}),
)
MANAGER = NodeSpec("lifecycle_manager", "lifecycle_manager", "lifecycle_manager.yaml",
                   "brings the nodes up in order, watches them, brings a restarted node back", lifecycle=False)
BY_NAME = {n.name: n for n in (*NODES, MANAGER)}

# Consumers first, the microphone last: no audio of the first turn is published before the recognizer listens, and
# no transcript before the dialogue and the voice are there to answer it. Deactivation goes the other way.
ACTIVATION_ORDER = ("face", "audio_out", "tts", "llm", "dialogue", "emotion", "asr", "capture")
MICROPHONE, RECOGNIZER = "capture", "asr"


def coerce(arg: str, value: str) -> bool | int | str:
    """A launch-argument string as the typed parameter value it sets."""
    spec = next(a for a in ARGS if a.name == arg)
    if spec.type is bool:
        if value.strip().lower() not in ("true", "false"):
            raise ValueError(f"launch argument {arg} must be true or false, not {value!r}")
        return value.strip().lower() == "true"
    if spec.type is int:
        try:
            return int(value)
        except ValueError:
            raise ValueError(f"launch argument {arg} must be a whole number, not {value!r}") from None
    if spec.choices and value not in spec.choices:
        raise ValueError(f"launch argument {arg} must be one of {', '.join(spec.choices)}, not {value!r}")
    return value


def enabled(spec: NodeSpec, args: dict[str, str]) -> bool:
    if spec.enabled_if is None:
        return True
    arg, values = spec.enabled_if
    return str(coerce(arg, {**ARG_DEFAULTS, **args}[arg])).lower() in values


def resolve(spec: NodeSpec, args: dict[str, str]) -> tuple[dict[str, str], dict[str, object], bool]:
    """Remaps (relative topic name -> target), parameter overrides and whether the node runs, for the given
    launch-argument values."""
    values = {**ARG_DEFAULTS, **args}
    relative = {t.name: t.relative for t in topics.ALL}
    remaps = {relative[topic]: values[arg] for topic, arg in spec.remap_args.items()
              if values[arg] != relative[topic]}
    params: dict[str, object] = {p: coerce(arg, values[arg]) for p, arg in spec.param_args.items()}
    if spec.derived is not None:
        params.update(spec.derived(values))
    params["use_sim_time"] = coerce("use_sim_time", values["use_sim_time"])
    if spec is MANAGER:
        params["node_names"] = managed_nodes(args)
    return remaps, params, enabled(spec, args)


def managed_nodes(args: dict[str, str]) -> list[str]:
    """The lifecycle nodes that run for these arguments, in activation order."""
    running = {s.name for s in NODES if enabled(s, args)}
    return [name for name in ACTIVATION_ORDER if name in running]


@dataclass(frozen=True)
class Launched:
    spec: NodeSpec
    namespace: str
    remaps: dict[str, str]
    params: dict[str, object]


def plan(args: dict[str, str]) -> list[Launched]:
    """Every process to start for these launch-argument values: the enabled nodes, then their lifecycle manager."""
    unknown = set(args) - set(ARG_DEFAULTS)
    if unknown:
        raise ValueError(f"unknown launch arguments: {', '.join(sorted(unknown))}")
    namespace = {**ARG_DEFAULTS, **args}["namespace"].strip("/")
    out = []
    for spec in (*NODES, MANAGER):
        remaps, params, runs = resolve(spec, args)
        if runs:
            out.append(Launched(spec, f"/{namespace}" if namespace else "", remaps, params))
    return out
