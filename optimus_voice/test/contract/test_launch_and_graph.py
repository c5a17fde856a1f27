"""The launch file and `optimus-voice up` name only executables, parameters and config files that exist."""

import ast
import importlib
from pathlib import Path

import pytest
import yaml
from optimus_voice.contract import graph, topics
from optimus_voice.nodes.base import COMMON_PARAMS
from optimus_voice.tools.supervisor import executable_path, share_dir

PKG = Path(__file__).parents[2]
LAUNCH = PKG / "launch" / "voice.launch.py"


def declared_params(spec) -> dict:
    """The parameters the executable's node declares (name -> default)."""
    module = importlib.import_module(f"optimus_voice.nodes.{spec.executable}")
    if spec is graph.MANAGER:
        return {p.name: p.default for p in module.PARAMS}
    classes = [v for v in vars(module).values() if isinstance(v, type) and getattr(v, "PARAMS", None)
               and v.__module__ == module.__name__]
    assert len(classes) == 1
    return {p.name: p.default for p in classes[0].PARAMS + COMMON_PARAMS}


EVERY = (*graph.NODES, graph.MANAGER)


@pytest.mark.parametrize("spec", EVERY, ids=[n.name for n in EVERY])
def test_executable_is_installed(spec):
    path = executable_path(spec)
    assert path.exists(), f"{path} missing: colcon build did not install {spec.executable}"


@pytest.mark.parametrize("spec", EVERY, ids=[n.name for n in EVERY])
def test_config_file_matches_declared_parameters(spec):
    for folder in (PKG / "config", share_dir() / "config"):
        config = yaml.safe_load((folder / spec.config).read_text())
        # Keyed for any namespace: a plain "asr:" would not reach the node of a stack launched under one.
        key = f"/**/{spec.name}"
        assert list(config) == [key], f"{spec.config} must hold the parameters of node {key}"
        declared = declared_params(spec)
        for name, value in config[key]["ros__parameters"].items():
            assert name in declared, f"{spec.config}: {name} is not a parameter of {spec.name}"
            assert type(value) is type(declared[name]), f"{spec.config}: {name} has the wrong type"


@pytest.mark.parametrize("spec", EVERY, ids=[n.name for n in EVERY])
def test_arguments_set_declared_parameters_and_known_topics(spec):
    declared = declared_params(spec)
    _, params, _ = graph.resolve(spec, {})
    for param, value in params.items():
        assert param in declared or param == "use_sim_time", param  # use_sim_time: every rclpy node has it
        assert param == "use_sim_time" or type(value) is type(declared[param]), param
    for param, arg in spec.param_args.items():
        assert arg in graph.ARG_DEFAULTS and type(declared[param]) is graph.ARG_TYPES[arg]
    for topic, arg in spec.remap_args.items():
        assert topic in topics.BY_NAME and arg in graph.ARG_DEFAULTS
    assert spec.enabled_if is None or spec.enabled_if[0] in graph.ARG_DEFAULTS


def test_launch_file_is_built_from_the_graph_declaration():
    tree = ast.parse(LAUNCH.read_text())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                and node.module == "optimus_voice.contract.graph" for alias in node.names}
    assert {"ARGS", "PACKAGE", "plan"} <= imported
    # No event-handler chains: the lifecycle manager brings the nodes up.
    assert "RegisterEventHandler" not in LAUNCH.read_text() and "OnStateTransition" not in LAUNCH.read_text()
    functions = [n.name for n in tree.body if isinstance(n, ast.FunctionDef)]
    assert "generate_launch_description" in functions
    # Literal strings in the launch file may only name launch-graph keys, not stray executables or files.
    literals = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    executables = {s.executable for s in EVERY}
    assert not {lit for lit in literals if lit.endswith("_node")} - executables
    assert not {lit for lit in literals if lit.endswith((".yaml", ".xml"))}
    assert (share_dir() / "launch" / LAUNCH.name).exists()


def test_every_executable_has_an_entry_point():
    setup = (PKG / "setup.py").read_text()
    for spec in EVERY:
        assert spec.executable.removesuffix("_node") in setup


def test_the_plan_follows_the_arguments():
    args = {"audio_out_topic": "/robot/speaker", "playback_topic": "/robot/speaker/played", "use_audio_out": "false",
            "namespace": "robot1", "use_sim_time": "true", "mic_source": "none"}
    launched = {item.spec.name: item for item in graph.plan(args)}
    assert set(launched) == {"asr", "emotion", "dialogue", "tts", "face", "lifecycle_manager"}  # no mic, no speaker
    tts = launched["tts"]
    assert tts.remaps == {"audio/out": "/robot/speaker", "audio/out/playback": "/robot/speaker/played"}
    assert tts.namespace == "/robot1" and tts.params["use_sim_time"] is True
    assert launched["lifecycle_manager"].params["node_names"] == ["face", "tts", "dialogue", "emotion", "asr"]
    _, params, _ = graph.resolve(graph.BY_NAME["capture"], {"mic_source": "file", "mic_loop": "true"})
    assert params["source"] == "file" and params["loop"] is True
    with pytest.raises(ValueError, match="true or false"):
        graph.plan({"mic_loop": "maybe"})
    with pytest.raises(ValueError, match="one of"):
        graph.plan({"mic_source": "usb"})
    with pytest.raises(ValueError, match="unknown launch arguments"):
        graph.plan({"mic_sauce": "device"})


def test_the_rviz_config_shows_topics_of_the_graph():
    """Every display of config/optimus_voice.rviz names a topic of the graph with the type its display shows, and
    the fixed frame is the face's frame (markers show without any TF)."""
    config = yaml.safe_load((PKG / "config" / "optimus_voice.rviz").read_text())
    shows = {"rviz_default_plugins/MarkerArray": "visualization_msgs/msg/MarkerArray",
             "rviz_default_plugins/Marker": "visualization_msgs/msg/Marker"}
    displays = config["Visualization Manager"]["Displays"]
    with_topics = [d for d in displays if "Topic" in d]
    assert with_topics
    by_relative = {t.relative: t for t in topics.ALL}
    for display in with_topics:
        topic = by_relative[display["Topic"]["Value"]]
        assert shows[display["Class"]] == topic.type
        assert display["Topic"]["Reliability Policy"] == "Reliable"  # as the face node publishes
    face_frame = graph.ARG_DEFAULTS["face_frame"]
    assert config["Visualization Manager"]["Global Options"]["Fixed Frame"] == face_frame
    assert (share_dir() / "config" / "optimus_voice.rviz").exists()
