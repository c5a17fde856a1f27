"""A plain rclpy node with its own context, spun in a daemon thread: ROS inside a tool that is not a node."""

from __future__ import annotations

import contextlib
import threading

import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node


class BackgroundNode:
    def __init__(self, name: str, domain_id: int | None = None, namespace: str = "") -> None:
        self._context = rclpy.Context()
        rclpy.init(args=[], context=self._context, domain_id=domain_id)  # not our command line: no remap rules
        self.node = Node(name, context=self._context, namespace=namespace)
        self._executor = SingleThreadedExecutor(context=self._context)
        self._executor.add_node(self.node)
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        with contextlib.suppress(Exception):  # ends when the context is shut down
            self._executor.spin()

    def close(self) -> None:
        self._executor.shutdown(timeout_sec=1.0)
        self.node.destroy_node()
        rclpy.try_shutdown(context=self._context)
        self._thread.join(timeout=2.0)
