"""`optimus-voice up`: start the graph of optimus_voice.contract.graph without ros2 launch, as ros2 launch would.

One process per node (each in its own process session, so one Ctrl-C reaches only us and we stop the children in
order), parameters from config/ plus the launch-argument overrides, lifecycle transitions to 'active' driven
through each node's lifecycle services, and a watchdog that reports a dead node on /diagnostics and restarts it.
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


class Supervisor:
    def __init__(self, args: dict[str, str] | None = None, overrides: dict[str, dict] | None = None,
                 log_dir: Path | None = None, restart: bool = True, echo=print) -> None:
        unknown = set(args or {}) - set(graph.ARG_DEFAULTS)
        if unknown:
            raise ValueError(f"unknown launch arguments: {', '.join(sorted(unknown))}")
        self.args = {**graph.ARG_DEFAULTS, **(args or {})}
        self.restart = restart
        self.echo = echo
        self.log_dir = Path(log_dir or tempfile.mkdtemp(prefix="optimus_voice_up_"))
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.env = ros_environment()
        config_dir = Path(self.args["config_dir"]) if self.args["config_dir"] else share_dir() / "config"
        self.nodes: dict[str, Managed] = {}
        for spec in graph.NODES:
            remaps, params, enabled = graph.resolve(spec, self.args)
            if not enabled:
                continue
            params.update((overrides or {}).get(spec.name, {}))
            override_file = self.log_dir / f"{spec.name}.params.yaml"
            override_file.write_text(yaml.safe_dump({spec.name: {"ros__parameters": params}}))
            cmd = [str(executable_path(spec)), "--ros-args", "-r", f"__node:={spec.name}",
                   "--params-file", str(config_dir / spec.config), "--params-file", str(override_file)]
            for src, dst in remaps.items():
                cmd += ["-r", f"{src}:={dst}"]
            self.nodes[spec.name] = Managed(spec, cmd, self.log_dir / f"{spec.name}.log")
        self._stopping = threading.Event()
        self._client = None

    # -- processes -------------------------------------------------------------------------------------------
    def _spawn(self, m: Managed) -> None:
        log = open(m.log_path, "ab")  # noqa: SIM115 - handed to the child for its whole life
        m.process = subprocess.Popen(m.command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     env=self.env, start_new_session=True)
        log.close()
        m.state = "starting"

    def start(self, timeout_s: float = 60.0) -> bool:
        """Start every node and bring it to active. Returns True when all are active."""
        from optimus_voice.tools.lifecycle_client import LifecycleClient

        self._client = LifecycleClient()
        for m in self.nodes.values():
            self._spawn(m)
            self.echo(f"[up] started {m.spec.name} (pid {m.process.pid}): {m.spec.summary}")
        # Configure everything (loading models), then activate consumers before producers: the microphone goes
        # live last, so no audio of the first turn is published before the recognizer listens.
        configured = [m for m in self.nodes.values() if self._bring_up(m, "inactive", timeout_s)]
        results = [self._bring_up(m, "active", timeout_s) for m in reversed(configured)]
        self._client.report(self.status())
        return len(configured) == len(self.nodes) and all(results)

    def _bring_up(self, m: Managed, goal: str, timeout_s: float) -> bool:
        ok, detail = self._client.bring_to(m.spec.name, goal, timeout_s, alive=lambda: m.process.poll() is None)
        m.state = goal if ok else f"failed: {detail}"
        self.echo(f"[up] {m.spec.name}: {m.state}")
        return ok

    def watch_once(self) -> list[str]:
        """Restart nodes whose process died. Returns the names restarted."""
        restarted = []
        for m in self.nodes.values():
            if self._stopping.is_set() or m.process is None or m.process.poll() is None:
                continue
            m.last_exit = m.process.returncode
            m.state = f"died (exit {m.last_exit})"
            self.echo(f"[up] {m.spec.name} died with exit code {m.last_exit}; see {m.log_path}")
            self._client.report(self.status())
            if not self.restart:
                m.process = None
                continue
            m.restarts += 1
            self._spawn(m)
            self.echo(f"[up] restarting {m.spec.name} (restart {m.restarts})")
            self._bring_up(m, "active", 60.0)
            restarted.append(m.spec.name)
        if self._client is not None:
            self._client.report(self.status())
        return restarted

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
            for s, h in old.items():
                signal.signal(s, h)
            self.stop()

    def stop(self) -> dict[str, int | None]:
        """One SIGINT to each node (reverse start order), SIGKILL after STOP_TIMEOUT_S. Returns exit codes."""
        self._stopping.set()
        live = [m for m in reversed(self.nodes.values()) if m.process is not None and m.process.poll() is None]
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
        if self._client is not None:
            self._client.close()
            self._client = None
        self.echo("[up] all nodes stopped: " + ", ".join(f"{k}={v}" for k, v in codes.items()))
        return codes

    def status(self) -> dict[str, dict[str, str]]:
        return {name: {"state": m.state, "pid": str(m.process.pid if m.process else ""),
                       "restarts": str(m.restarts), "log": str(m.log_path)} for name, m in self.nodes.items()}
