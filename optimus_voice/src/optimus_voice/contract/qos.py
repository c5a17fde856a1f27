"""QoS profiles for each topic class of optimus_voice.contract.topics."""

from __future__ import annotations

from optimus_voice.contract.topics import QosClass, Topic
from rclpy.qos import (
    DurabilityPolicy,
    HistoryPolicy,
    QoSProfile,
    ReliabilityPolicy,
)

PROFILES: dict[QosClass, QoSProfile] = {
    # Best effort like qos_profile_sensor_data, but 1 s deep (50 frames of 20 ms) instead of 5 frames: a reader
    # whose Python thread is held up for 100 ms (a decode holding the GIL on a 2-core robot) must not lose audio.
    QosClass.SENSOR: QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=50, reliability=ReliabilityPolicy.BEST_EFFORT,
                                durability=DurabilityPolicy.VOLATILE),
    QosClass.STREAM: QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=500, reliability=ReliabilityPolicy.RELIABLE),
    QosClass.EVENTS: QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=50, reliability=ReliabilityPolicy.RELIABLE),
    QosClass.LATCHED: QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1, reliability=ReliabilityPolicy.RELIABLE,
                                 durability=DurabilityPolicy.TRANSIENT_LOCAL),
    QosClass.ACTUATOR: QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=5, reliability=ReliabilityPolicy.RELIABLE),
}


def profile(topic: Topic) -> QoSProfile:
    return PROFILES[topic.qos]

