"""Drives other nodes' lifecycles through their services, and reports the graph's health on /diagnostics."""

from __future__ import annotations

import time
from collections.abc import Callable

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from lifecycle_msgs.msg import State, Transition
from lifecycle_msgs.srv import ChangeState, GetState
from optimus_voice.contract import qos, topics
from optimus_voice.tools.background_node import BackgroundNode
from std_msgs.msg import Header

_PATH = {  # from a current state id to the transitions that lead to 'active'
    State.PRIMARY_STATE_UNCONFIGURED: Transition.TRANSITION_CONFIGURE,
    State.PRIMARY_STATE_INACTIVE: Transition.TRANSITION_ACTIVATE,
}


class LifecycleClient(BackgroundNode):
    """Lifecycle service clients and a /diagnostics publisher on a background node of its own."""

    def __init__(self, name: str = "optimus_voice_up") -> None:
        super().__init__(name)
        self._diag = self.node.create_publisher(DiagnosticArray, topics.DIAGNOSTICS.name,
                                                qos.profile(topics.DIAGNOSTICS))

    def _call(self, client, request, timeout_s: float):
        future = client.call_async(request)
        deadline = time.monotonic() + timeout_s
        while not future.done() and time.monotonic() < deadline:
            time.sleep(0.01)
        return future.result() if future.done() else None

    def bring_to(self, node: str, goal: str, timeout_s: float, alive: Callable[[], bool]) -> tuple[bool, str]:
        """Take `node` to `goal` ('inactive': configured, or 'active'), waiting for its services.

        Returns (ok, detail).
        """
        goal_id = {"inactive": State.PRIMARY_STATE_INACTIVE, "active": State.PRIMARY_STATE_ACTIVE}[goal]
        get = self.node.create_client(GetState, f"/{node}/get_state")
        change = self.node.create_client(ChangeState, f"/{node}/change_state")
        try:
            deadline = time.monotonic() + timeout_s
            while not get.wait_for_service(timeout_sec=0.1):
                if not alive():
                    return False, "process exited"
                if time.monotonic() > deadline:
                    return False, "lifecycle services did not appear"
            while time.monotonic() < deadline:
                state = self._call(get, GetState.Request(), 5.0)
                if state is None:
                    continue
                sid = state.current_state.id
                if sid == goal_id:
                    return True, goal
                if sid not in _PATH:
                    return False, f"in state {state.current_state.label}"
                reply = self._call(change, ChangeState.Request(transition=Transition(id=_PATH[sid])),
                                   max(1.0, deadline - time.monotonic()))
                if reply is None or not reply.success:
                    return False, f"transition from {state.current_state.label} failed (see the node's log)"
            return False, "timed out"
        finally:
            self.node.destroy_client(get)
            self.node.destroy_client(change)

    def report(self, status: dict[str, dict[str, str]]) -> None:
        statuses = []
        for name, info in status.items():
            state = info["state"]
            level = 0 if state == "active" else 2 if state.startswith(("died", "failed")) else 1
            statuses.append(DiagnosticStatus(
                level=bytes([level]), name=f"optimus_voice/up/{name}", message=state, hardware_id="optimus-voice up",
                values=[KeyValue(key=k, value=v) for k, v in info.items()]))
        self._diag.publish(DiagnosticArray(header=self._header(), status=statuses))

    def _header(self) -> Header:
        return Header(stamp=self.node.get_clock().now().to_msg())
