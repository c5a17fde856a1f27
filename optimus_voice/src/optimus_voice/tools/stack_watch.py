"""What `optimus-voice up` sees of the stack: it reports each node's process on /diagnostics
(optimus_voice/up/<node>) and reads the lifecycle manager's view of each node (optimus_voice/manager/<node>)."""

from __future__ import annotations

import threading
import time

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from optimus_voice.contract import qos, topics
from optimus_voice.tools.background_node import BackgroundNode
from std_msgs.msg import Header


def stack_status(diagnostics: list) -> dict[str, dict[str, str]]:
    """From /diagnostics messages, each node's process as `optimus-voice up` reports it and its lifecycle state as
    the lifecycle manager does: {node: {"process", "pid", "restarts", "state", "instance", "manager_says"}}."""
    out: dict[str, dict[str, str]] = {}
    for msg in diagnostics:
        for s in msg.status:
            values = {kv.key: kv.value for kv in s.values}
            if s.name.startswith("optimus_voice/up/"):
                entry = out.setdefault(s.name.rsplit("/", 1)[1], {})
                entry.update(process=values["state"], pid=values["pid"], restarts=values["restarts"])
            elif s.name.startswith("optimus_voice/manager/"):
                entry = out.setdefault(s.name.rsplit("/", 1)[1], {})
                entry.update(state=values["state"], instance=values["instance"], manager_says=s.message)
    return out


class StackWatch(BackgroundNode):
    def __init__(self, namespace: str = "", name: str = "optimus_voice_up") -> None:
        super().__init__(name)
        self._manager_id = f"{namespace.rstrip('/')}/lifecycle_manager"
        self._states: dict[str, str] = {}
        self._cv = threading.Condition()
        self._diag = self.node.create_publisher(DiagnosticArray, topics.DIAGNOSTICS.name,
                                                qos.profile(topics.DIAGNOSTICS))
        self.node.create_subscription(DiagnosticArray, topics.DIAGNOSTICS.name, self._on_diagnostics,
                                      qos.profile(topics.DIAGNOSTICS))

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        with self._cv:
            for s in msg.status:
                if s.hardware_id == self._manager_id and s.name.startswith("optimus_voice/manager/"):
                    self._states[s.name.rsplit("/", 1)[1]] = {kv.key: kv.value for kv in s.values}.get("state", "")
            self._cv.notify_all()

    def lifecycle_states(self) -> dict[str, str]:
        """Each managed node's lifecycle state, as the manager last reported it."""
        with self._cv:
            return dict(self._states)

    def wait_active(self, names: list[str], timeout_s: float, alive=lambda: True) -> bool:
        """Wait until the manager reports every one of `names` active (False on timeout, or when `alive()` says
        the processes are gone)."""
        deadline = time.monotonic() + timeout_s
        with self._cv:
            while not all(self._states.get(n) == "active" for n in names):
                left = deadline - time.monotonic()
                if left <= 0 or not alive():
                    return False
                self._cv.wait(min(left, 0.5))
            return True

    def report(self, status: dict[str, dict[str, str]]) -> None:
        """Each node's process: running, died, stopped; restarts; pid; log."""
        statuses = []
        for name, info in status.items():
            state = info["state"]
            level = 0 if state == "running" else 2 if state.startswith("died") else 1
            statuses.append(DiagnosticStatus(
                level=bytes([level]), name=f"optimus_voice/up/{name}", message=state, hardware_id="optimus-voice up",
                values=[KeyValue(key=k, value=v) for k, v in info.items()]))
        self._diag.publish(DiagnosticArray(header=Header(stamp=self.node.get_clock().now().to_msg()),
                                           status=statuses))
