"""Shared fixtures: an isolated ROS graph per test session, real rclpy nodes in-process, and real audio."""

from __future__ import annotations

import itertools
import os
import threading
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"

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
        """Create the node with parameter overrides, add it to the executor, and bring it to active."""
        from rclpy.parameter import Parameter

        node = node_class()
        if params:
            node.set_parameters([Parameter(k, value=v) for k, v in params.items()])
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
    from optimus_voice.probe import TopicProbe

    p = TopicProbe(domain_id=domain_id)
    yield p
    p.close()
