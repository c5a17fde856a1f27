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


def node_class(spec):
    """The node class behind an executable, found through setup.py's entry point."""
    module = importlib.import_module(f"optimus_voice.nodes.{spec.executable}")
    classes = [v for v in vars(module).values() if isinstance(v, type) and getattr(v, "PARAMS", None)
               and v.__module__ == module.__name__]
    assert len(classes) == 1
    return classes[0]


@pytest.mark.parametrize("spec", graph.NODES, ids=[n.name for n in graph.NODES])
def test_executable_is_installed(spec):
    path = executable_path(spec)
    assert path.exists(), f"{path} missing: colcon build did not install {spec.executable}"


@pytest.mark.parametrize("spec", graph.NODES, ids=[n.name for n in graph.NODES])
def test_config_file_matches_declared_parameters(spec):
    for folder in (PKG / "config", share_dir() / "config"):
        config = yaml.safe_load((folder / spec.config).read_text())
        assert list(config) == [spec.name], f"{spec.config} must hold the parameters of node {spec.name}"
        declared = {p.name: p.default for p in node_class(spec).PARAMS + COMMON_PARAMS}
        for name, value in config[spec.name]["ros__parameters"].items():
            assert name in declared, f"{spec.config}: {name} is not a parameter of {spec.name}"
            assert type(value) is type(declared[name]), f"{spec.config}: {name} has the wrong type"


@pytest.mark.parametrize("spec", graph.NODES, ids=[n.name for n in graph.NODES])
def test_arguments_set_declared_parameters_and_known_topics(spec):
    declared = {p.name: p.default for p in node_class(spec).PARAMS}
    for param, arg in spec.param_args.items():
        assert param in declared
        assert arg in graph.ARG_DEFAULTS
        assert type(declared[param]) is graph.ARG_TYPES[arg]
    for topic, arg in spec.remap_args.items():
        assert topic in topics.BY_NAME
        assert arg in graph.ARG_DEFAULTS
    assert spec.enabled_by is None or spec.enabled_by in graph.ARG_DEFAULTS


def test_launch_file_is_built_from_the_graph_declaration():
    tree = ast.parse(LAUNCH.read_text())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                and node.module == "optimus_voice.contract.graph" for alias in node.names}
    assert {"ARGS", "NODES", "PACKAGE"} <= imported
    functions = [n.name for n in tree.body if isinstance(n, ast.FunctionDef)]
    assert "generate_launch_description" in functions
    # Literal strings in the launch file may only name launch-graph keys, not stray executables or files.
    literals = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    executables = {s.executable for s in graph.NODES}
    assert not {lit for lit in literals if lit.endswith("_node")} - executables
    assert not {lit for lit in literals if lit.endswith((".yaml", ".xml"))}
    assert (share_dir() / "launch" / LAUNCH.name).exists()


def test_every_executable_has_an_entry_point():
    setup = (PKG / "setup.py").read_text()
    for spec in graph.NODES:
        assert spec.executable.removesuffix("_node") in setup


def test_resolve_applies_arguments():
    remaps, params, enabled = graph.resolve(graph.BY_NAME["audio_out"],
                                            {"audio_out_topic": "/robot/speaker", "use_audio_out": "false"})
    assert remaps == {topics.AUDIO_OUT.name: "/robot/speaker"}
    assert not enabled
    _, params, _ = graph.resolve(graph.BY_NAME["capture"], {"mic_source": "file", "mic_loop": "true"})
    assert params["source"] == "file"
    assert params["loop"] is True
    with pytest.raises(ValueError, match="true or false"):
        graph.resolve(graph.BY_NAME["capture"], {"mic_loop": "maybe"})
