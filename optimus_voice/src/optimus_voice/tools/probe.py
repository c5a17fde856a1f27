"""TopicProbe: an rclpy node that records every message on the graph's topics (tests, demo, bench)."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable

from optimus_voice.contract import qos, topics
from optimus_voice.contract.msgtypes import message_class
from optimus_voice.tools.background_node import BackgroundNode


class TopicProbe(BackgroundNode):
    """Subscribes to `watch` topics (default: all) in its own context and spin thread, in the stack's
    `namespace`; messages are kept under each topic's root name."""

    def __init__(self, watch: tuple[topics.Topic, ...] = topics.ALL, name: str = "optimus_voice_probe",
                 remaps: dict[str, str] | None = None, domain_id: int | None = None, namespace: str = "") -> None:
        super().__init__(name, domain_id, namespace)
        self.messages: dict[str, list] = defaultdict(list)
        self._cv = threading.Condition()
        self.publishers: dict[str, object] = {}
        for topic in watch:
            actual = (remaps or {}).get(topic.name, topic.relative)
            self.node.create_subscription(message_class(topic.type), actual, self._recorder(topic.name),
                                          qos.profile(topic))

    def _recorder(self, name: str) -> Callable:
        def record(msg) -> None:
            with self._cv:
                self.messages[name].append((time.monotonic(), msg))
                self._cv.notify_all()
        return record

    def publisher(self, topic: topics.Topic):
        if topic.name not in self.publishers:
            self.publishers[topic.name] = self.node.create_publisher(message_class(topic.type), topic.relative,
                                                                     qos.profile(topic))
        return self.publishers[topic.name]

    def wait_for(self, predicate: Callable[[], bool], timeout_s: float) -> bool:
        """Wait until predicate() (evaluated under the probe's lock) holds; False on timeout."""
        deadline = time.monotonic() + timeout_s
        with self._cv:
            while not predicate():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cv.wait(min(left, 0.2))
            return True

    def wait_matched(self, topic_name: str, count: int = 1, timeout_s: float = 10.0) -> bool:
        """Wait until a publisher on topic_name has `count` matched subscribers (no sleeping on discovery)."""
        pub = self.publishers[topic_name]
        deadline = time.monotonic() + timeout_s
        while pub.get_subscription_count() < count:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    def of(self, topic: topics.Topic) -> list:
        with self._cv:
            return [m for _, m in self.messages.get(topic.name, [])]

    def timed(self, topic: topics.Topic) -> list[tuple[float, object]]:
        """(time.monotonic() when received, message) of every message on `topic` so far."""
        with self._cv:
            return list(self.messages.get(topic.name, []))
