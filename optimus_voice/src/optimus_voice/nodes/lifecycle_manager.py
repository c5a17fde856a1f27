"""Lifecycle manager node: brings the stack up in order, watches it, and brings a restarted node back.

The nav2 lifecycle_manager pattern, in rclpy. Each managed node reports its lifecycle state on /diagnostics once a
second (the heartbeat); the manager asks for transitions through each node's `change_state` service, in the order
of contract.bringup (consumers first, the microphone last and only once the recognizer is active). Every request
has a deadline: a node that died mid-request (SIGKILL) is asked again, through a new client, once its restarted
process reports. The state of every node goes on /diagnostics as optimus_voice/manager/<node>.

Services (std_srvs/Trigger): ~/pause_listening, ~/resume_listening (the microphone down and up), ~/restart (every
node down, microphone first, and up again).
"""

from __future__ import annotations

import time

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState
from rclpy.node import Node
from std_msgs.msg import Header
from std_srvs.srv import Trigger

from optimus_voice.contract import graph, qos, stamps
from optimus_voice.contract.bringup import Bringup, Managed
from optimus_voice.contract.health import Level
from optimus_voice.contract.topics import DIAGNOSTICS
from optimus_voice.nodes.base import STEADY, run
from optimus_voice.nodes.params import READ_ONLY, Param

TRANSITION_IDS = {"configure": Transition.TRANSITION_CONFIGURE, "activate": Transition.TRANSITION_ACTIVATE,
                  "deactivate": Transition.TRANSITION_DEACTIVATE, "cleanup": Transition.TRANSITION_CLEANUP}

SETTLED_TICK_S = 1.0  # how often the manager looks once every node is as wanted (a crash shows within a heartbeat)

PARAMS = (
    Param("node_names", list(graph.ACTIVATION_ORDER), "The managed nodes, in activation order (consumers first).",
          when=READ_ONLY),
    Param("heartbeat_timeout_s", 3.0, "A node that has not reported for this long is lost.", 1.0, 60.0,
          when=READ_ONLY),
    Param("transition_timeout_s", 60.0, "Longest wait for a transition (configure loads models).", 1.0, 600.0,
          when=READ_ONLY),
    Param("retry_s", 5.0, "Wait before a refused transition is asked again (grows with each refusal).", 0.5, 300.0,
          when=READ_ONLY),
    Param("tick_s", 0.2, "How often the manager looks at the nodes.", 0.02, 5.0, when=READ_ONLY),
    Param("diagnostics_period", 1.0, "Seconds between /diagnostics reports.", 0.1, 10.0, when=READ_ONLY),
)


class LifecycleManager(Node):
    def __init__(self) -> None:
        super().__init__("lifecycle_manager")
        for p in PARAMS:
            self.declare_parameter(p.name, p.default, p.descriptor())
        names = list(self.get_parameter("node_names").value)
        unknown = set(names) - set(graph.ACTIVATION_ORDER)
        if unknown:
            self.get_logger().error(f"not nodes of the stack, left alone: {', '.join(sorted(unknown))}")
        order = [n for n in graph.ACTIVATION_ORDER if n in names]
        self.bringup = Bringup(order, graph.MICROPHONE, graph.RECOGNIZER, self.param("heartbeat_timeout_s"),
                               self.param("transition_timeout_s"), self.param("retry_s"))
        ns = self.get_namespace().rstrip("/")
        self._fqn = {f"{ns}/{name}": name for name in order}  # hardware_id of each node's diagnostics
        self._change_state = {name: self._client(name) for name in order}
        self._futures: dict[str, object] = {}
        self._diag = self.create_publisher(DiagnosticArray, DIAGNOSTICS.name, qos.profile(DIAGNOSTICS))
        self.create_subscription(DiagnosticArray, DIAGNOSTICS.name, self._on_diagnostics, qos.profile(DIAGNOSTICS))
        # On the steady clock: on sim time too, before any /clock. Quick while nodes come up, slow once all are.
        self._ticker = self.create_timer(self.param("tick_s"), self._tick, clock=STEADY)
        self.create_timer(self.param("diagnostics_period"), self._report, clock=STEADY)
        self.create_service(Trigger, "~/pause_listening", self._pause)
        self.create_service(Trigger, "~/resume_listening", self._resume)
        self.create_service(Trigger, "~/restart", self._restart)
        self.get_logger().info(f"managing {', '.join(order)} (activated in this order)")

    def param(self, name: str):
        return self.get_parameter(name).value

    def _client(self, name: str):
        return self.create_client(ChangeState, f"{name}/change_state")

    # -- heartbeats and answers ------------------------------------------------------------------------------
    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        now = time.monotonic()
        for status in msg.status:
            name = self._fqn.get(status.hardware_id)
            if name is None or not status.name.startswith("optimus_voice/"):
                continue
            values = {kv.key: kv.value for kv in status.values}
            if "lifecycle_state" in values:
                self.bringup.report(name, values["lifecycle_state"], values.get("instance", ""),
                                    int(values.get("transitions", "0") or 0), now)

    def _tick(self) -> None:
        now = time.monotonic()
        for name in self.bringup.expire(now):
            # The request went to a process that no longer answers: drop it, and talk to the next one afresh.
            future = self._futures.pop(name, None)
            if future is not None:
                self._change_state[name].remove_pending_request(future)
            self.destroy_client(self._change_state[name])
            self._change_state[name] = self._client(name)
            self.get_logger().warn(f"{name}: {self.bringup.nodes[name].error}")
        for name, transition in self.bringup.next(now):
            client = self._change_state[name]
            if not client.service_is_ready():
                continue
            self.bringup.asked(name, transition, now)
            future = client.call_async(ChangeState.Request(transition=Transition(id=TRANSITION_IDS[transition])))
            self._futures[name] = future
            future.add_done_callback(lambda f, n=name, t=transition: self._answered(n, t, f))
            self.get_logger().info(f"{name}: {transition}")
        settled = self.bringup.all_up() and not self._futures
        period_s = SETTLED_TICK_S if settled else self.param("tick_s")
        if abs(self._ticker.timer_period_ns - period_s * 1e9) > 1:
            self._ticker.timer_period_ns = int(period_s * 1e9)

    def _answered(self, name: str, transition: str, future) -> None:
        if self._futures.get(name) is future:
            del self._futures[name]
        try:
            ok = bool(future.result().success)
        except Exception as exc:  # noqa: BLE001 - the call was dropped (the node went away)
            ok, error = False, str(exc)
        else:
            error = "" if ok else f"{transition} refused (see the node's log and /diagnostics)"
        self.bringup.answered(name, transition, ok, time.monotonic(), error)
        # Two calls: rclpy refuses one call site that logs at two severities (ValueError, the manager gone).
        if ok:
            self.get_logger().info(f"{name}: {transition} done")
        else:
            self.get_logger().error(f"{name}: {transition} failed: {error}")

    # -- services --------------------------------------------------------------------------------------------
    def _pause(self, _request, response):
        response.success = self.bringup.pause()
        response.message = "the microphone goes down" if response.success else "no microphone is managed"
        return response

    def _resume(self, _request, response):
        response.success = self.bringup.resume()
        response.message = "the microphone comes up" if response.success else "no microphone is managed"
        return response

    def _restart(self, _request, response):
        self.bringup.restart()
        response.success, response.message = True, "every node goes down, then up again"
        return response

    # -- diagnostics -----------------------------------------------------------------------------------------
    def _report(self) -> None:
        statuses = [self._status(n) for n in self.bringup.nodes.values()]
        up = self.bringup.all_up()
        statuses.append(DiagnosticStatus(
            level=bytes([Level.OK if up else Level.WARN]), name="optimus_voice/manager",
            message="every node as wanted" if up else "bringing nodes up", hardware_id=self.get_fully_qualified_name(),
            values=[KeyValue(key="nodes", value=",".join(self.bringup.order))]))
        self._diag.publish(DiagnosticArray(header=Header(stamp=stamps.to_time(self.get_clock().now().nanoseconds)),
                                           status=statuses))

    def _status(self, n: Managed) -> DiagnosticStatus:
        if n.state == n.want:
            level, message = Level.OK, n.state
        elif n.state == "lost" or n.failures:
            level, message = Level.ERROR, n.error or f"{n.state}, wanted {n.want}"
        else:
            level, message = Level.WARN, f"{n.state}, on the way to {n.want}"
        values = {"state": n.state, "want": n.want, "transitions": n.transitions, "failures": n.failures,
                  "last_error": n.error, "pending": n.pending or "", "instance": n.instance,
                  "history": "; ".join(n.history[-5:])}
        return DiagnosticStatus(level=bytes([level]), name=f"optimus_voice/manager/{n.name}", message=message,
                                hardware_id=self.get_fully_qualified_name(),
                                values=[KeyValue(key=k, value=str(v)) for k, v in values.items()])


def main(args: list[str] | None = None) -> None:
    run(LifecycleManager, args)
