"""Shared fixtures: an isolated ROS graph per test session, real rclpy nodes in-process, and real audio."""

from __future__ import annotations

import itertools
import os
import threading
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
INTENTS = Path(__file__).parents[1] / "config" / "intents.yaml"
BAG_CLIPS = ("cv_what_did_he_look_like.wav", "cv_concourse.wav")
BAG_GAP_S = 0.3

# Isolate this session's DDS traffic: its own domain, and discovery on this machine only.
os.environ.setdefault("ROS_DOMAIN_ID", str(100 + os.getpid() % 100))
os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
os.environ.setdefault("FASTDDS_DEFAULT_PROFILES_FILE",
                      str(Path(__file__).parents[1] / "config" / "fastdds_profile.xml"))

import optimus_voice  # noqa: E402,F401  (sets AMENT_PREFIX_PATH for a venv install)

_DOMAINS = itertools.count(int(os.environ["ROS_DOMAIN_ID"]) + 1)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA


@pytest.fixture(scope="session")
def asr_parts():
    """The VAD class and one recognizer, with the second worker the ASR node gives it for background partials."""
    from optimus_voice.hearing.vad import SileroVad
    from optimus_voice.hearing.whisper import WhisperRecognizer

    return SileroVad, WhisperRecognizer(workers=2)


@pytest.fixture(scope="module")
def policy():
    from optimus_voice.deciding.policy import Policy

    return Policy(INTENTS)


@pytest.fixture
def speech_bag(tmp_path, data_dir):
    """An /audio/in bag of two real clips, each followed by BAG_GAP_S of silence, made by `optimus-voice bag`."""
    import json
    import subprocess
    import sys

    out = tmp_path / "speech"
    result = subprocess.run([sys.executable, "-m", "optimus_voice.tools.cli.main", "bag", "from-wav",
                             *(str(data_dir / c) for c in BAG_CLIPS), "-o", str(out), "--gap", str(BAG_GAP_S)],
                            capture_output=True, text=True, check=True)
    assert json.loads(result.stdout)["frames"] > 0
    return out


@pytest.fixture
def bag_samples(data_dir):
    """What the speech bag must hold: each clip then BAG_GAP_S of silence, as S16LE."""
    import numpy as np
    from optimus_voice.audio_io.sources import load_audio
    from optimus_voice.contract.audio import SAMPLE_RATE, to_s16le

    parts = []
    for name in BAG_CLIPS:
        parts += [load_audio(data_dir / name), np.zeros(int(BAG_GAP_S * SAMPLE_RATE), np.float32)]
    return np.frombuffer(to_s16le(np.concatenate(parts)), dtype="<i2")


@pytest.fixture(autouse=True)
def ros_home(tmp_path, monkeypatch) -> Path:
    """A ROS_HOME of the test's own: what a node keeps there (the echo path it learnt) never carries into another
    test, nor comes from the developer's ~/.ros. Node processes a test starts inherit it."""
    home = tmp_path / "ros_home"
    monkeypatch.setenv("ROS_HOME", str(home))
    return home


@pytest.fixture
def domain_id() -> int:
    """A DDS domain of the test's own, so no entity of an earlier test can match one of this test."""
    return 1 + (next(_DOMAINS) % 200)


class InProcessGraph:
    """Real rclpy nodes spun by a multi-threaded executor in this process (default context)."""

    def __init__(self, domain_id: int) -> None:
        import rclpy
        from rclpy.executors import MultiThreadedExecutor

        rclpy.init(domain_id=domain_id)
        self.executor = MultiThreadedExecutor(num_threads=4)
        self.nodes = []
        self._thread = threading.Thread(target=self.executor.spin, daemon=True)
        self._thread.start()

    def add(self, node_class, activate: bool = True, **params):
        """Create the node with parameter overrides (as a launch file or a parameter file sets them), add it to the
        executor, and bring it to active."""
        from rclpy.parameter import Parameter

        node = node_class(parameter_overrides=[Parameter(k, value=v) for k, v in params.items()])
        self.executor.add_node(node)
        self.nodes.append(node)
        if activate:
            node.trigger_configure()
            assert node.lifecycle_state() == "inactive", f"{node.get_name()} failed to configure"
            node.trigger_activate()
            assert node.lifecycle_state() == "active", f"{node.get_name()} failed to activate"
        return node

    def close(self) -> None:
        import rclpy

        for node in self.nodes:
            node.active = False
            # as the node executables do at exit: a reader thread left waiting in rclpy when the interpreter exits
            # aborts the process (std::terminate in pybind11, exit 134)
            node.stop_readers()
            node.cleanup_stage()
        self.executor.shutdown(timeout_sec=2.0)
        for node in self.nodes:
            node.destroy_node()
        rclpy.try_shutdown()


@pytest.fixture
def ros_graph(domain_id):
    graph = InProcessGraph(domain_id)
    yield graph
    graph.close()


@pytest.fixture
def probe(domain_id):
    from optimus_voice.tools.probe import TopicProbe

    p = TopicProbe(domain_id=domain_id)
    yield p
    p.close()
