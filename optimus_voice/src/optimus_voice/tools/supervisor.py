"""`optimus-voice up`: start the graph of contract.graph without ros2 launch, as ros2 launch would.

The same processes as the launch file, from the same `graph.plan()`: one per node and the lifecycle manager, with
the parameters from config/ plus the launch-argument overrides, the remaps and the namespace. The manager brings
the nodes up (in order, the microphone last) and back up after a crash; this only starts processes, restarts one
that dies (as the launch file's respawn does), and reports each process on /diagnostics. Each process runs in a
process session of its own, so one Ctrl-C reaches only us, and we stop the children with one SIGINT each.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import yaml
from optimus_voice.contract import graph

STOP_TIMEOUT_S = 10.0
RESPAWN_DELAY_S = 2.0  # as the launch file's respawn_delay


def parse_overrides(pairs: list[str]) -> dict[str, dict]:
    """`NODE.PARAM=VALUE` pairs (`up --set`, `bench e2e --set`) -> {node: {param: value}}, values read as YAML."""
    out: dict[str, dict] = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        node, _, param = key.partition(".")
        if not param:
            raise SystemExit(f"expected NODE.PARAM=VALUE, got {pair!r}")
        out.setdefault(node, {})[param] = yaml.safe_load(value) if value else ""
    return out


def share_dir() -> Path:
    from ament_index_python.packages import get_package_share_directory

    return Path(get_package_share_directory(graph.PACKAGE))


def executable_path(spec: graph.NodeSpec) -> Path:
    from ament_index_python.packages import get_package_prefix

    return Path(get_package_prefix(graph.PACKAGE)) / "lib" / graph.PACKAGE / spec.executable


def ros_environment(base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of node processes: fast discovery unless the user set their own profile."""
    env = dict(os.environ if base is None else base)
    env.setdefault("FASTDDS_DEFAULT_PROFILES_FILE", str(share_dir() / "config" / "fastdds_profile.xml"))
    env.setdefault("RCUTILS_COLORIZED_OUTPUT", "0")
    env["PYTHONUNBUFFERED"] = "1"
    return env


@dataclass
class Managed:
    spec: graph.NodeSpec
    command: list[str]
    log_path: Path
    process: subprocess.Popen | None = None
    restarts: int = 0
    state: str = "stopped"
    last_exit: int | None = None
    died_at: float = 0.0


class Supervisor:
    def __init__(self, args: dict[str, str] | None = None, overrides: dict[str, dict] | None = None,
                 log_dir: Path | None = None, restart: bool = True, echo=print) -> None:
        launched = graph.plan(args or {})  # checks the argument names and values
        self.args = {**graph.ARG_DEFAULTS, **(args or {})}
        self.restart = restart
        self.echo = echo
        self.log_dir = Path(log_dir or tempfile.mkdtemp(prefix="optimus_voice_up_"))
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.env = ros_environment()
        self.namespace = launched[0].namespace if launched else ""
        config_dir = Path(self.args["config_dir"]) if self.args["config_dir"] else share_dir() / "config"
        self.nodes: dict[str, Managed] = {}
        for item in launched:
            spec = item.spec
            params = {**item.params, **(overrides or {}).get(spec.name, {})}
            override_file = self.log_dir / f"{spec.name}.params.yaml"
            override_file.write_text(yaml.safe_dump({f"/**/{spec.name}": {"ros__parameters": params}}))
            cmd = [str(executable_path(spec)), "--ros-args", "-r", f"__node:={spec.name}",
                   "--params-file", str(config_dir / spec.config), "--params-file", str(override_file)]
            if item.namespace:
                cmd += ["-r", f"__ns:={item.namespace}"]
            for src, dst in item.remaps.items():
                cmd += ["-r", f"{src}:={dst}"]
            self.nodes[spec.name] = Managed(spec, cmd, self.log_dir / f"{spec.name}.log")
        self.managed = graph.managed_nodes(self.args)
        self._stopping = threading.Event()
        self._watch = None

    # -- processes -------------------------------------------------------------------------------------------
    def _spawn(self, m: Managed) -> None:
        log = open(m.log_path, "ab")  # noqa: SIM115 - handed to the child for its whole life
        m.process = subprocess.Popen(m.command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     env=self.env, start_new_session=True)
        log.close()
        m.state = "running"

    def start(self, timeout_s: float = 60.0) -> bool:
        """Start every process; True once the lifecycle manager reports every managed node active."""
        from optimus_voice.tools.stack_watch import StackWatch

        self._watch = StackWatch(self.namespace)
        for m in self.nodes.values():
            self._spawn(m)
            self.echo(f"[up] started {m.spec.name} (pid {m.process.pid}): {m.spec.summary}")
        self._watch.report(self.status())
        ok = self._watch.wait_active(self.managed, timeout_s, alive=lambda: not self._stopping.is_set())
        states = self._watch.lifecycle_states()
        self.echo("[up] " + ", ".join(f"{n}: {states.get(n, 'not reported')}" for n in self.managed))
        return ok

    def watch_once(self) -> list[str]:
        """Restart processes that died (after RESPAWN_DELAY_S). Returns the names restarted."""
        restarted = []
        for m in self.nodes.values():
            if self._stopping.is_set() or m.process is None or m.process.poll() is None:
                continue
            if not m.state.startswith("died"):
                m.last_exit = m.process.returncode
                m.state = f"died (exit {m.last_exit})"
                m.died_at = time.monotonic()
                self.echo(f"[up] {m.spec.name} died with exit code {m.last_exit}; see {m.log_path}")
                self._watch.report(self.status())
            if not self.restart or time.monotonic() - m.died_at < RESPAWN_DELAY_S:
                continue
            m.restarts += 1
            self._spawn(m)
            self.echo(f"[up] restarting {m.spec.name} (restart {m.restarts}); the lifecycle manager brings it up")
            restarted.append(m.spec.name)
        if self._watch is not None:
            self._watch.report(self.status())
        return restarted

    def lifecycle_states(self) -> dict[str, str]:
        return self._watch.lifecycle_states() if self._watch is not None else {}

    def run(self, duration_s: float | None = None) -> None:
        """Watch the graph until Ctrl-C, SIGTERM or `duration_s`, then stop every node."""
        deadline = None if duration_s is None else time.monotonic() + duration_s
        stop = threading.Event()
        handler = lambda *_: stop.set()  # noqa: E731
        old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            while not stop.is_set() and (deadline is None or time.monotonic() < deadline):
                self.watch_once()
                stop.wait(0.5)
        finally:
            self.stop()  # our handlers still in place: a second Ctrl-C cannot cut the stop short (orphan nodes)
            for s, h in old.items():
                signal.signal(s, h)

    def stop(self) -> dict[str, int | None]:
        """One SIGINT to each process (the manager first, then the nodes in reverse start order), SIGKILL after
        STOP_TIMEOUT_S. Returns exit codes."""
        self._stopping.set()
        order = [self.nodes[n] for n in (graph.MANAGER.name, *graph.ACTIVATION_ORDER[::-1]) if n in self.nodes]
        live = [m for m in order if m.process is not None and m.process.poll() is None]
        for m in live:
            m.process.send_signal(signal.SIGINT)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for m in live:
            try:
                m.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.echo(f"[up] {m.spec.name} did not stop on SIGINT; killing it")
                m.process.kill()
                m.process.wait()
        codes = {}
        for m in self.nodes.values():
            if m.process is not None:
                codes[m.spec.name] = m.process.returncode
                m.state = f"stopped (exit {m.process.returncode})"
        if self._watch is not None:
            self._watch.report(self.status())
            self._watch.close()
            self._watch = None
        self.echo("[up] all nodes stopped: " + ", ".join(f"{k}={v}" for k, v in codes.items()))
        return codes

    def status(self) -> dict[str, dict[str, str]]:
        return {name: {"state": m.state, "pid": str(m.process.pid if m.process else ""),
                       "restarts": str(m.restarts), "log": str(m.log_path)} for name, m in self.nodes.items()}
