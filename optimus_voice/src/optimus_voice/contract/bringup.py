"""Bring-up of the managed nodes (no rclpy): which lifecycle transition to ask of which node next, from what the
nodes report.

The lifecycle manager (nodes/lifecycle_manager.py) feeds in each node's heartbeat (its lifecycle state on
/diagnostics, once a second) and the answer to each transition it asked for; `next()` says what to ask now:
- every node that should run is configured, all at once (each loads its models in a process of its own);
- a configured node is activated once every node before it in the activation order is active, consumers first
  (a node whose configure failed does not hold the others up while it is retried); the microphone also waits for
  the recognizer, so no audio is published that nobody transcribes;
- a node that reports `unconfigured` again (its process died and was restarted, however it died) is configured and
  activated again; a node whose heartbeat stops is `lost` until it reports again;
- a node that an operator moved to another state (`ros2 lifecycle set`: a transition the manager did not ask for)
  is left there, until they move it again;
- `pause`/`resume` take the microphone down and up; `restart` takes every node down, the microphone first, then
  brings them all up again.
"""

from __future__ import annotations

from dataclasses import dataclass, field

PRIMARY = ("unconfigured", "inactive", "active")
# (current state, wanted state) -> the transition that leads there
STEP = {("unconfigured", "active"): "configure", ("inactive", "active"): "activate",
        ("unconfigured", "inactive"): "configure", ("active", "inactive"): "deactivate",
        ("active", "unconfigured"): "deactivate", ("inactive", "unconfigured"): "cleanup"}
GOAL = {"configure": "inactive", "activate": "active", "deactivate": "inactive", "cleanup": "unconfigured"}


@dataclass
class Managed:
    name: str
    want: str = "active"
    state: str = "unknown"         # a lifecycle state label, "unknown" (never heard) or "lost" (heartbeat stopped)
    instance: str = ""             # the process that reports (a restarted node is a new instance)
    seq: int = 0                   # transitions that instance has made; an older report is stale
    seen_s: float = float("-inf")
    pending: str | None = None     # transition asked for and not answered
    pending_seq: int = 0           # the node's transitions when it was asked
    pending_until: float = 0.0
    late: str | None = None        # the state a transition that timed out would have led to (it may still come)
    failures: int = 0              # transitions refused or timed out in a row
    retry_at: float = 0.0
    error: str = ""
    transitions: int = 0           # transitions done since the manager started
    history: list[str] = field(default_factory=list)


class Bringup:
    def __init__(self, order: list[str], microphone: str = "capture", recognizer: str = "asr",
                 heartbeat_s: float = 3.0, transition_s: float = 60.0, retry_s: float = 5.0) -> None:
        self.order = list(order)
        self.nodes = {name: Managed(name) for name in order}
        self.microphone = microphone if microphone in self.nodes else None
        self.recognizer = recognizer if recognizer in self.nodes else None
        self.heartbeat_s = heartbeat_s
        self.transition_s = transition_s
        self.retry_s = retry_s
        self._restarting = False
        self._since: float | None = None

    # -- what comes in ---------------------------------------------------------------------------------------
    def report(self, name: str, state: str, instance: str, seq: int, now_s: float) -> None:
        """A heartbeat: `name` is in `state`, its process `instance` having made `seq` transitions."""
        n = self.nodes.get(name)
        if n is None or (instance == n.instance and seq < n.seq):
            return  # not ours, or sent before the last transition we saw answered
        if instance != n.instance and n.instance:
            n.history.append(f"restarted ({n.state} -> {state})")
            n.pending, n.failures, n.retry_at = None, 0, 0.0  # a new process: nothing asked of the old one holds
        elif instance == n.instance and seq > n.seq and n.pending is None and state != n.state \
                and state in PRIMARY and state != n.late:
            # A transition nobody here asked for: an operator's `ros2 lifecycle set`. Left where they put it, not
            # undone a second later; their next transition (or resume_listening, restart) is the way back.
            n.want = state
            n.history.append(f"{n.state} -> {state} from outside: kept")
        if state == n.late or instance != n.instance:
            n.late = None
        n.instance, n.seq, n.state, n.seen_s = instance, seq, state, now_s

    def asked(self, name: str, transition: str, now_s: float) -> None:
        n = self.nodes[name]
        n.pending, n.pending_until, n.pending_seq = transition, now_s + self.transition_s, n.seq

    def answered(self, name: str, transition: str, ok: bool, now_s: float, error: str = "") -> None:
        n = self.nodes[name]
        if n.pending != transition:
            return
        n.pending = None
        if ok:  # its heartbeat may have told us already, before the answer came
            n.state, n.seq = GOAL[transition], max(n.seq, n.pending_seq + 1)
            n.failures, n.error = 0, ""
            n.transitions += 1
        else:
            self._failed(n, error or f"{transition} failed", now_s)

    def _failed(self, n: Managed, error: str, now_s: float) -> None:
        n.failures += 1
        n.error = error
        n.retry_at = now_s + self.retry_s * min(n.failures, 6)

    def expire(self, now_s: float) -> list[str]:
        """Forget transitions that were not answered in time, mark nodes whose heartbeat stopped as lost. Returns
        the names whose request timed out (their service clients should be made anew)."""
        expired = []
        self._since = now_s if self._since is None else self._since
        for n in self.nodes.values():
            if n.state == "unknown" and not n.failures and now_s - self._since > self.transition_s:
                self._failed(n, f"has not reported within {self.transition_s:g} s of the start", now_s)
            if n.pending and now_s > n.pending_until:
                self._failed(n, f"{n.pending} not answered within {self.transition_s:g} s", now_s)
                n.late, n.pending = GOAL[n.pending], None
                expired.append(n.name)
            if n.state not in ("unknown", "lost") and now_s - n.seen_s > self.heartbeat_s:
                n.history.append(f"lost in {n.state}")
                n.state = "lost"
        return expired

    # -- what to do ------------------------------------------------------------------------------------------
    def next(self, now_s: float) -> list[tuple[str, str]]:
        """(node, transition) pairs to ask for now."""
        if self._restarting and all(n.state in ("unconfigured", "lost") or n.failures for n in self.nodes.values()):
            self._restarting = False
            for n in self.nodes.values():
                n.want = "active"
        out = []
        for n in self.nodes.values():
            if n.pending or now_s < n.retry_at or n.state not in PRIMARY or n.state == n.want:
                continue
            transition = STEP.get((n.state, n.want))
            if transition == "activate" and not self._may_activate(n):
                continue
            if transition == "deactivate" and n.want == "unconfigured" and not self._producers_down(n):
                continue
            if transition:
                out.append((n.name, transition))
        return out

    def _holds_up(self, n: Managed) -> bool:
        """Whether `n` is on its way to active (so those after it wait for it)."""
        return n.want == "active" and n.state != "active" and n.state != "lost" and not (n.failures and not n.pending)

    def _may_activate(self, n: Managed) -> bool:
        before = self.order[:self.order.index(n.name)]
        if any(self._holds_up(self.nodes[b]) for b in before):
            return False
        if n.name == self.microphone and self.recognizer:
            return self.nodes[self.recognizer].state == "active"
        return True

    def _producers_down(self, n: Managed) -> bool:
        after = self.order[self.order.index(n.name) + 1:]
        return all(self.nodes[a].state != "active" for a in after)

    # -- commands --------------------------------------------------------------------------------------------
    def pause(self) -> bool:
        """Stop listening: the microphone goes down (the rest stays up)."""
        if self.microphone is None:
            return False
        self.nodes[self.microphone].want = "inactive"
        return True

    def resume(self) -> bool:
        if self.microphone is None:
            return False
        self.nodes[self.microphone].want = "active"
        return True

    def restart(self) -> None:
        """Every node down (microphone first) and up again."""
        self._restarting = True
        for n in self.nodes.values():
            n.want = "unconfigured"
            n.failures, n.retry_at = 0, 0.0

    def all_up(self) -> bool:
        return all(n.state == n.want for n in self.nodes.values())
