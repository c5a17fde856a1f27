"""Record live topics into a bag and play a bag onto live topics (what `ros2 bag record/play` do), via rclpy.

Messages stay serialized (CDR) both ways: nothing is converted, so a bag replays byte for byte.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterable
from pathlib import Path

from optimus_voice.audio_io import bags
from optimus_voice.contract import topics
from optimus_voice.contract.msgtypes import message_class
from optimus_voice.contract.qos import profile
from optimus_voice.contract.stamps import NS_PER_S, now_ns, to_time
from optimus_voice.tools.background_node import BackgroundNode
from rclpy.qos import QoSProfile, ReliabilityPolicy

DEFAULT_TOPICS = tuple(t.name for t in topics.ALL)
CLOCK_PERIOD_S = 0.005  # /clock at 200 Hz: stamps from sim time are this fine-grained


def _qos(topic: str) -> QoSProfile:
    known = topics.BY_NAME.get(topic)
    if known is not None:
        return profile(known)
    # Best effort matches reliable and best-effort publishers alike.
    return QoSProfile(depth=100, reliability=ReliabilityPolicy.BEST_EFFORT)


def _types(node, names: Iterable[str], wait_s: float) -> dict[str, str]:
    """Topic -> type: ours from the topic table, others from the graph (waiting up to wait_s for them)."""
    found = {n: topics.BY_NAME[n].type for n in names if n in topics.BY_NAME}
    deadline = time.monotonic() + wait_s
    while True:
        graph = dict(node.get_topic_names_and_types())
        found.update({n: graph[n][0] for n in names if n not in found and graph.get(n)})
        if len(found) == len(set(names)) or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def stack_topics(namespace: str = "") -> list[str]:
    """Every topic of the stack launched under `namespace`."""
    return [topics.in_namespace(t, namespace) for t in topics.ALL]


def record(out: str | Path, names: Iterable[str] = DEFAULT_TOPICS, *, duration_s: float | None = None,
           stop: threading.Event | None = None, domain_id: int | None = None,
           discovery_s: float = 2.0, max_messages: int | None = None) -> dict:
    """Record topics (full names) until `duration_s` passes, `max_messages` are recorded or `stop` is set (Ctrl-C
    also stops it). Returns counts."""
    names = list(dict.fromkeys(names))
    stop = stop or threading.Event()
    lock = threading.Lock()
    counts: dict[str, int] = dict.fromkeys(names, 0)
    closed = False
    bg = BackgroundNode("optimus_voice_bag_record", domain_id=domain_id)
    try:
        types = _types(bg.node, names, discovery_s)
        with bags.BagWriter(out) as writer:
            def callback(topic: str, msgtype: str):
                def on_message(raw: bytes) -> None:
                    with lock:
                        if closed:
                            return
                        writer.write_raw(topic, msgtype, now_ns(), raw)
                        counts[topic] += 1
                        if max_messages is not None and sum(counts.values()) >= max_messages:
                            stop.set()
                return on_message

            subs = [bg.node.create_subscription(message_class(t), n, callback(n, t), _qos(n), raw=True)
                    for n, t in types.items()]
            with contextlib.suppress(KeyboardInterrupt):
                stop.wait(duration_s)
            with lock:  # no callback may write after the writer closes
                closed = True
            for sub in subs:
                bg.node.destroy_subscription(sub)
    finally:
        bg.close()
    missing = [n for n in names if n not in types]
    return {"bag": str(out), "messages": counts, "unknown_type": missing}


class BackgroundRecording:
    """`record` on a thread of its own, until `stop()`: a session recorded while something else runs."""

    def __init__(self, out: str | Path, names: Iterable[str] | None = None, namespace: str = "") -> None:
        names = stack_topics(namespace) if names is None else names
        self._stop = threading.Event()
        self._thread = threading.Thread(target=record, args=(out, names), kwargs={"stop": self._stop}, daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout=timeout_s)


def play(path: str | Path, *, rate: float = 1.0, loop: bool = False, names: Iterable[str] = (),
         wait_subscribers_s: float = 0.0, stop: threading.Event | None = None,
         domain_id: int | None = None, clock: bool = False) -> dict:
    """Publish a bag's messages with their recorded timing (scaled by 1/rate). With `clock`, also publish the
    bag's time on /clock, as `ros2 bag play --clock` does, for nodes run with use_sim_time. Returns counts."""
    if rate <= 0:
        raise ValueError(f"rate must be positive, got {rate}")
    stop = stop or threading.Event()
    conns = bags.connections(path, names)
    counts: dict[str, int] = dict.fromkeys(conns, 0)
    bg = BackgroundNode("optimus_voice_bag_play", domain_id=domain_id)
    ticker = None
    try:
        pubs = {n: bg.node.create_publisher(message_class(t), n, _qos(n)) for n, t in conns.items()}
        deadline = time.monotonic() + wait_subscribers_s
        while time.monotonic() < deadline and not all(p.get_subscription_count() for p in pubs.values()):
            time.sleep(0.05)
        ticker = BagClock(bg.node, rate) if clock else None
        while not stop.is_set():
            first, start = None, now_ns()
            for message in bags.read(path, conns):
                if first is None:
                    first = message.timestamp_ns
                    if ticker is not None:
                        ticker.start(first)
                wait = (start + (message.timestamp_ns - first) / rate - now_ns()) / NS_PER_S
                if wait > 0 and stop.wait(wait):
                    break
                pubs[message.topic].publish(message.rawdata)
                counts[message.topic] += 1
            if not loop:
                break
    except KeyboardInterrupt:
        pass
    finally:
        if ticker is not None:
            ticker.stop()
        bg.close()
    return {"bag": str(path), "messages": counts}


class BagClock:
    """Publishes the bag's time on /clock every CLOCK_PERIOD_S while a bag plays (rosgraph_msgs/Clock)."""

    def __init__(self, node, rate: float) -> None:
        from rclpy.qos import DurabilityPolicy
        from rosgraph_msgs.msg import Clock

        self._msg = Clock
        self._pub = node.create_publisher(Clock, "/clock", QoSProfile(depth=1, durability=DurabilityPolicy.VOLATILE))
        self._rate = rate
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, bag_start_ns: int) -> None:
        wall_start = now_ns()

        def tick() -> None:
            while not self._stop.wait(CLOCK_PERIOD_S):
                bag_now = bag_start_ns + int((now_ns() - wall_start) * self._rate)
                self._pub.publish(self._msg(clock=to_time(bag_now)))

        self._pub.publish(self._msg(clock=to_time(bag_start_ns)))
        self._thread = threading.Thread(target=tick, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1.0)
