"""The shape every optimus_voice node shares: a thin rclpy lifecycle node around a plain engine.

- Parameters are declared from the class's PARAMS table, each with a description, a range or choices, and when
  a change takes effect (nodes.params); one callback refuses a bad `ros2 param set` with the reason.
- on_configure builds the engine (loads models); on_activate starts processing; on_deactivate pauses it;
  on_cleanup releases the engine. A failing configure (a missing model, no device) is logged and reported on
  /diagnostics and the node stays alive in 'unconfigured', ready for another try.
- /diagnostics carries the node's health, counters and timings once a second, in every lifecycle state: it is
  also the heartbeat the lifecycle manager watches.
- Subscription callbacks never crash the node: an exception is logged, counted and reported.
- Stamps come from the node's clock (sim time when use_sim_time is set); topics are relative to its namespace.
- Ctrl-C (SIGINT to the whole process group, then again from ros2 launch) ends the node cleanly with exit code 0,
  and nothing is published once its context is shut down.
"""

from __future__ import annotations

import contextlib
import faulthandler
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable, Iterator

import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import SetParametersResult
from rclpy.clock import Clock, ClockType
from rclpy.event_handler import PublisherEventCallbacks, SubscriptionEventCallbacks
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.parameter import Parameter
from std_msgs.msg import Header

from optimus_voice.contract import qos, stamps
from optimus_voice.contract.audio import AudioFormatError, decode_pcm
from optimus_voice.contract.health import Health, Level
from optimus_voice.contract.msgtypes import message_class
from optimus_voice.contract.topics import DIAGNOSTICS, QosClass, Topic
from optimus_voice.nodes.params import READ_ONLY, Param
from optimus_voice.nodes.stream_reader import NotForTheExecutor, StreamReader

COMMON_PARAMS = (
    Param("autostart", False, "Configure and activate on start (for running the node alone with ros2 run).",
          when=READ_ONLY),
    Param("diagnostics_period", 1.0, "Seconds between /diagnostics reports (the lifecycle manager's heartbeat).",
          0.1, 10.0, when=READ_ONLY),
)


@contextlib.contextmanager
def ros_context(args: list[str] | None = None) -> Iterator[None]:
    """rclpy.init/shutdown as a context manager on every distro (Jazzy's init returns None)."""
    rclpy.init(args=args)
    try:
        yield
    finally:
        rclpy.try_shutdown()


# Seconds a node's clean-up at exit may take before every thread's stack is written to its log (`up` and ros2
# launch kill a node 10 s after their SIGINT).
STOP_STACKS_S = 6.0
STEADY = Clock(clock_type=ClockType.STEADY_TIME)

# No QoS event handlers (rclpy's default ones only log an incompatible QoS): each is a Python waitable that the
# executor polls on every wake-up, 50 times a second with the audio. Matching is checked by the tests instead.
NO_PUB_EVENTS = PublisherEventCallbacks(use_default_callbacks=False)
NO_SUB_EVENTS = SubscriptionEventCallbacks(use_default_callbacks=False)


class SafePublisher:
    """A lifecycle publisher that a worker thread may use while ROS shuts down: once the node's context is gone
    (Ctrl-C) a message is dropped instead of raising "publisher's context is invalid" in the worker."""

    def __init__(self, node: LifecycleNode, publisher) -> None:
        self._context = node.context
        self.publisher = publisher

    def publish(self, msg) -> None:
        if not self._context.ok():
            return
        try:
            self.publisher.publish(msg)
        except Exception:
            if self._context.ok():
                raise

    def get_subscription_count(self) -> int:
        return self.publisher.get_subscription_count()


class VoiceNode(LifecycleNode):
    """Base class of the optimus_voice lifecycle nodes."""

    PARAMS: tuple[Param, ...] = ()

    def __init__(self, name: str, **kwargs) -> None:
        super().__init__(name, **kwargs)
        self.health = Health()
        self.active = False
        # Who reports, and how many transitions it has made: the lifecycle manager tells a restarted process, and
        # a heartbeat sent before a transition it saw answered, from the current state.
        self._instance = f"{os.getpid()}-{time.time_ns()}"
        self._transitions = 0
        self._params = {p.name: p for p in COMMON_PARAMS + self.PARAMS}
        for p in self._params.values():
            self._declare(p)
        self._diag_pub = self.create_publisher(message_class(DIAGNOSTICS.type), DIAGNOSTICS.name,
                                               qos.profile(DIAGNOSTICS), event_callbacks=NO_PUB_EVENTS)
        self._diag_timer = self.steady_timer(self.param("diagnostics_period"), self.publish_diagnostics)
        self._subs: list = []
        # The last message of each latched topic that came while inactive, with its callback: a latched topic is
        # state, delivered once when the subscription matches, and a node activated after that must still see it.
        self._held: dict[str, tuple[Callable, object]] = {}
        self._pubs: list = []
        self._readers: list[StreamReader] = []
        self.add_pre_set_parameters_callback(self._coerce_parameters)
        self.add_on_set_parameters_callback(self._check_parameters)
        self.add_post_set_parameters_callback(lambda _params: self.parameters_changed())
        self.health.set_status(Level.WARN, "unconfigured")

    def _declare(self, p: Param) -> None:
        """Declare a parameter. A bad value from a parameter file or the command line is reported, and the default
        used instead: the node starts, and says what was wrong."""
        override = self._parameter_overrides.get(p.name)
        if override is not None and (value := p.coerced(override.value)) is not None:
            override = self._parameter_overrides[p.name] = Parameter(p.name, value=value)
        reason = p.invalid(override.value) if override is not None else None
        if reason:
            self.get_logger().error(f"parameter {reason}; using the default {p.default!r}")
            self.health.problem("bad_parameters", f"parameter {reason}", Level.ERROR)
            del self._parameter_overrides[p.name]
        self.declare_parameter(p.name, p.default, p.descriptor())

    def _coerce_parameters(self, params: list[Parameter]) -> list[Parameter]:
        """`ros2 param set` types a bare 300 as an integer: for a float parameter it means 300.0, not a wrong type
        (rclpy refuses a value of another type than the declared one before any check of ours), and so on
        (Param.coerced)."""
        out = []
        for param in params:
            spec = self._params.get(param.name)
            value = spec.coerced(param.value) if spec is not None else None
            out.append(param if value is None else Parameter(param.name, value=value))
        return out

    def _check_parameters(self, params) -> SetParametersResult:
        """Refuse, with the reason, a value that is out of range, not among the choices, or set while the node is
        active although it only takes effect at configure."""
        for param in params:
            spec = self._params.get(param.name)
            reason = spec.refused(param.value, self.active, self.param(param.name)) if spec is not None else None
            if reason:
                self.get_logger().warn(f"refused: {reason}")
                self.health.count("parameters_refused")
                return SetParametersResult(successful=False, reason=reason)
        return SetParametersResult(successful=True)

    # -- parameters, stamps, topics ------------------------------------------------------------------------------
    def param(self, name: str):
        return self.get_parameter(name).value

    def steady_timer(self, period_s: float, callback: Callable):
        """A timer on the steady clock: heartbeats, face commands and decision ticks keep their pace when the node
        runs on sim time, before any /clock comes (and while a replayed bag is paused)."""
        return self.create_timer(period_s, callback, clock=STEADY)

    def now_ns(self) -> int:
        """The node's clock: wall time, or the replayed /clock with use_sim_time."""
        return self.get_clock().now().nanoseconds

    def decode_frame(self, msg, counter: str):
        """An AudioFrame's samples at the frame's own rate (mono float32), or None for a malformed frame, which is
        counted as `counter` and reported."""
        try:
            return decode_pcm(msg.encoding, msg.sample_rate, msg.channels, bytes(msg.data),
                              expected_rate=msg.sample_rate)
        except AudioFormatError as exc:
            self.health.problem(counter, f"rejected audio frame: {exc}")
            return None

    def header(self, stamp_ns: int | None = None, frame_id: str = "") -> Header:
        return Header(stamp=stamps.to_time(self.now_ns() if stamp_ns is None else stamp_ns), frame_id=frame_id)

    def publisher(self, topic: Topic) -> SafePublisher:
        """A lifecycle publisher: it only publishes while the node is active, and never once ROS is shut down."""
        pub = self.create_lifecycle_publisher(message_class(topic.type), topic.relative, qos.profile(topic),
                                              event_callbacks=NO_PUB_EVENTS)
        self._pubs.append(pub)
        return SafePublisher(self, pub)

    def subscribe(self, topic: Topic, callback: Callable, own_thread: bool = False) -> None:
        """Subscribe; the callback runs only while active (a latched topic's last message from before is given to it
        on activation), and its exceptions are contained and reported.

        own_thread: the messages are taken and the callback runs on a reader thread of their own instead of the
        executor (for the microphone audio: far cheaper per message; the callback must be thread-safe).
        """

        def guarded(msg) -> None:
            if not self.active:
                if topic.qos == QosClass.LATCHED:
                    self._held[topic.name] = (guarded, msg)
                return
            try:
                callback(msg)
            except Exception as exc:  # noqa: BLE001 - a bad message must never take the node down
                self.get_logger().error(f"{topic.name}: {exc}\n{traceback.format_exc(limit=3)}")
                self.health.problem("callback_errors", f"{topic.name}: {exc}", Level.ERROR)

        sub = self.create_subscription(message_class(topic.type), topic.relative, guarded, qos.profile(topic),
                                       event_callbacks=NO_SUB_EVENTS,
                                       callback_group=NotForTheExecutor() if own_thread else None)
        self._subs.append(sub)
        if own_thread:
            self._readers.append(StreamReader(self, sub, guarded, f"read {topic.name}"))

    def turn_ok(self, turn_id: int) -> bool:
        """False (and counted) for a turn id too far in the future to be real: such a message is dropped."""
        if stamps.plausible_turn(turn_id):
            return True
        self.health.problem("implausible_turn_ids", f"dropped a message with turn id {turn_id} (in the future)")
        return False

    def matched_publishers(self, topic: Topic) -> int:
        """Publishers our subscription to `topic` has matched (0 when not subscribed)."""
        name = self.resolve_topic_name(topic.relative)
        return sum(sub.get_publisher_count() for sub in self._subs if sub.topic_name == name)

    # -- what subclasses implement -------------------------------------------------------------------------------
    def configure_stage(self) -> None:
        """Build the engine, publishers and subscriptions. Raise to fail the transition."""

    def activate_stage(self) -> None:
        """Start processing (timers, devices)."""

    def deactivate_stage(self) -> None:
        """Pause processing."""

    def cleanup_stage(self) -> None:
        """Release the engine and devices."""

    def parameters_changed(self) -> None:
        """Parameters were set (ros2 param set): pass what the engine reads at run time on to it."""

    # -- lifecycle -----------------------------------------------------------------------------------------------
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            self.configure_stage()
        except Exception as exc:  # noqa: BLE001 - reported, the node stays up for another try
            self.get_logger().error(f"configure failed: {exc}")
            self.health.problem("configure_failures", f"configure failed: {exc}", Level.ERROR)
            self.health.set_status(Level.ERROR, f"configure failed: {exc}")
            self._release()
            return TransitionCallbackReturn.FAILURE
        self.health.set_status(Level.OK, "configured")
        self._transitions += 1
        return super().on_configure(state)

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            self.activate_stage()
        except Exception as exc:  # noqa: BLE001
            self.get_logger().error(f"activate failed: {exc}")
            self.health.set_status(Level.ERROR, f"activate failed: {exc}")
            return TransitionCallbackReturn.FAILURE
        self.active = True
        held, self._held = self._held, {}
        for callback, msg in held.values():
            callback(msg)
        if self.health.snapshot().level == Level.OK:
            self.health.set_status(Level.OK, "active")
        self._transitions += 1
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.active = False
        self.deactivate_stage()
        self.health.set_status(Level.OK, "inactive")
        self._transitions += 1
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._release()
        self.health.set_status(Level.WARN, "unconfigured")
        self._transitions += 1
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.active = False
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def _release(self) -> None:
        self.active = False
        self.stop_readers()
        with contextlib.suppress(Exception):
            self.cleanup_stage()
        self._held.clear()
        for sub in self._subs:
            self.destroy_subscription(sub)
        for pub in self._pubs:
            self.destroy_lifecycle_publisher(pub)
        self._subs.clear()
        self._pubs.clear()

    def stop_readers(self) -> None:
        for reader in self._readers:
            reader.stop()
        self._readers.clear()

    # -- diagnostics ---------------------------------------------------------------------------------------------
    def publish_diagnostics(self) -> None:
        snap = self.health.snapshot()
        values = {"lifecycle_state": self.lifecycle_state(), "instance": self._instance,
                  "transitions": str(self._transitions), **snap.values}
        status = DiagnosticStatus(level=bytes([int(snap.level)]), name=f"optimus_voice/{self.get_name()}",
                                  message=snap.message, hardware_id=self.get_fully_qualified_name(),
                                  values=[KeyValue(key=k, value=v) for k, v in values.items()])
        self._diag_pub.publish(DiagnosticArray(header=self.header(), status=[status]))

    def lifecycle_state(self) -> str:
        """Label of the current lifecycle state ('unconfigured', 'inactive', 'active', ...)."""
        return self._state_machine.current_state[1]


def _quiet_interrupts(hook: Callable = sys.unraisablehook) -> Callable:
    """An unraisable-exception hook that drops a KeyboardInterrupt and passes everything else on."""

    def unraisable(info: sys.UnraisableHookArgs) -> None:
        if not isinstance(info.exc_value, KeyboardInterrupt):
            hook(info)

    return unraisable


def _interrupt_once() -> Callable[[int, object], None]:
    """A SIGINT handler: the first Ctrl-C stops the node (KeyboardInterrupt), any later one is ignored."""
    interrupted = False

    def handler(signum: int, frame: object) -> None:
        nonlocal interrupted
        if not interrupted:
            interrupted = True
            raise KeyboardInterrupt

    return handler


def _still_up(context: rclpy.context.Context, wait_s: float = 1.0) -> bool:
    """Whether ROS is still up `wait_s` after an error in the executor. Ctrl-C shuts it down on a thread of its own
    (rclpy's signal handler), so the error of a message taken meanwhile can come before the context says so (seen
    under ros2 launch: the dialogue node exited 1 at a Ctrl-C)."""
    deadline = time.monotonic() + wait_s
    try:
        while context.ok():
            if time.monotonic() > deadline:
                return True
            time.sleep(0.01)
    except KeyboardInterrupt:  # our own handler's, for the same Ctrl-C
        pass
    return False


def _clean_up(node: rclpy.node.Node, executor: SingleThreadedExecutor, voice: bool) -> None:
    """Stop a node's work and destroy it, at exit."""
    if voice:
        node.active = False
    # Let callbacks still running in executor and reader threads finish before anything they use is torn down;
    # worker threads are stopped before the node is destroyed.
    executor.shutdown(timeout_sec=5.0)
    if voice:
        node.stop_readers()
        try:
            node.cleanup_stage()
        except Exception as exc:  # noqa: BLE001 - the node goes away either way; say what was left
            print(f"[{node.get_name()}] clean-up at exit failed: {exc!r}", file=sys.stderr, flush=True)
    node.destroy_node()


def run(node_class: type[rclpy.node.Node], args: list[str] | None = None) -> None:
    """Entry point shared by every node executable: spin until Ctrl-C or shutdown, then clean up and exit 0."""
    # Ctrl-C can land while the garbage collector runs a finalizer (seen in CI: rclpy's Task.__del__ while spin
    # returned); Python then prints it as a traceback it cannot raise. It is the stop we asked for, not an error.
    sys.unraisablehook = _quiet_interrupts()
    # A crash in native code (a model runtime, the middleware) leaves the Python stack of every thread in the
    # node's log instead of a bare "exit code -11".
    faulthandler.enable()
    # ros2 launch (and `up`) sends a SIGINT of its own after the terminal's. Python's default handler raised that
    # second one wherever the clean-up was, even inside the call that was about to ignore it (seen in CI). Set
    # before rclpy.init, whose handler shuts ROS down and then calls this one.
    signal.signal(signal.SIGINT, _interrupt_once())
    with ros_context(args):
        node = node_class()
        # One thread: model work (decodes, synthesis, emotion) runs on each node's own worker thread, and the
        # multi-threaded executor's per-wake-up overhead, paid 50 times a second with the audio, cost more than the
        # nodes' own work (BENCHMARKS.md, end to end).
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        voice = isinstance(node, VoiceNode)
        try:
            if voice and node.param("autostart"):
                node.trigger_configure()
                node.trigger_activate()
            executor.spin()
        except (KeyboardInterrupt, ExternalShutdownException):
            pass
        except Exception:
            # Ctrl-C shuts ROS down under the executor: a message it was taking at that moment can fail to convert
            # ("Unable to convert call argument", in CI and under ros2 launch). That is part of stopping; anything
            # else is not.
            if _still_up(node.context):
                raise
        finally:
            # Stopping: a SIGTERM (launch's next step after SIGINT) must not cut the clean-up short either.
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, signal.SIG_IGN)
            # A clean-up that hangs is killed by whoever started the node (`up` after 10 s, ros2 launch after its
            # SIGTERM timeout); before that, every thread's stack goes to the node's log, so the kill says where.
            faulthandler.dump_traceback_later(STOP_STACKS_S)
            try:
                _clean_up(node, executor, voice)
            finally:
                faulthandler.cancel_dump_traceback_later()
