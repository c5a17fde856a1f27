"""QoS profiles for each topic class of optimus_voice.topics."""

from __future__ import annotations

from rclpy.qos import (
    DurabilityPolicy,
    HistoryPolicy,
    QoSProfile,
    ReliabilityPolicy,
    qos_profile_sensor_data,
)

from optimus_voice.topics import QosClass, Topic

PROFILES: dict[QosClass, QoSProfile] = {
    QosClass.SENSOR: qos_profile_sensor_data,
    QosClass.STREAM: QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=500, reliability=ReliabilityPolicy.RELIABLE),
    QosClass.EVENTS: QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=50, reliability=ReliabilityPolicy.RELIABLE),
    QosClass.LATCHED: QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1, reliability=ReliabilityPolicy.RELIABLE,
                                 durability=DurabilityPolicy.TRANSIENT_LOCAL),
    QosClass.ACTUATOR: QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=5, reliability=ReliabilityPolicy.RELIABLE),
}


def profile(topic: Topic) -> QoSProfile:
    return PROFILES[topic.qos]

