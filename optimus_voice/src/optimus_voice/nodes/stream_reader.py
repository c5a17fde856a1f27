"""A thread that reads one high-rate subscription (the 50 frames/s microphone audio) outside the executor.

rclpy's Python executor rebuilds its wait set from every entity of the node for each message it dispatches, which
at 50 frames/s costs a listening node more than its audio work (BENCHMARKS.md, idle listening). This reader waits
on a wait set holding just its subscription and takes the message itself. The subscription is an
ordinary one (it shows in the graph, QoS and matching are unchanged); it belongs to a callback group that the
executor never waits on, so each message is taken exactly once, here.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from rclpy.callback_groups import CallbackGroup
from rclpy.impl.implementation_singleton import rclpy_implementation as _rclpy

WAKE_NS = 200_000_000  # the reader looks at its stop flag at least this often


class NotForTheExecutor(CallbackGroup):
    """A callback group the executor leaves out of its wait set: a StreamReader takes its messages."""

    def can_execute(self, entity) -> bool:
        return False

    def beginning_execution(self, entity) -> bool:
        return False

    def ending_execution(self, entity) -> None:
        pass


class StreamReader:
    """Takes each message of `subscription` on its own thread and hands it to `callback`."""

    def __init__(self, node, subscription, callback: Callable, name: str) -> None:
        self._context = node.context
        self._sub = subscription
        self._callback = callback
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, name=name, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        with self._context.handle:
            wait_set = _rclpy.WaitSet(1, 0, 0, 0, 0, 0, self._context.handle)
        while not self._stop.is_set() and self._context.ok():
            try:
                with self._sub.handle:  # the subscription cannot be destroyed while it is waited on
                    wait_set.clear_entities()
                    wait_set.add_subscription(self._sub.handle)
                    wait_set.wait(WAKE_NS)
                    if not wait_set.is_ready("subscription", 0):
                        continue
                    taken = self._sub.handle.take_message(self._sub.msg_type, False)
            except Exception:  # noqa: BLE001 - the subscription or the context went away: stop reading
                return
            if taken is not None:
                self._callback(taken[0])

    def stop(self, timeout_s: float = 1.0) -> None:
        self._stop.set()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout_s)
