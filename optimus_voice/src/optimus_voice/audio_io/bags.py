"""rosbag2 bags (mcap storage) of the stack's topics, written and read with `rosbags` (no rclpy here).

Our message types are registered from the `.msg` files that `optimus_voice_msgs` installs, so each bag carries
their full definitions: `ros2 bag play`, Foxglove and any mcap reader decode them without our code.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
from optimus_voice.contract import topics
from optimus_voice.contract.audio import S16LE, SAMPLE_RATE, AudioFormatError, decode_pcm, frames, to_s16le
from optimus_voice.contract.stamps import NS_PER_S, from_time, now_ns, split_ns

MSGS_PACKAGE = "optimus_voice_msgs"
BAG_VERSION = 8  # rosbag2 metadata version 8 is read by Jazzy and every later distribution


class BagError(RuntimeError):
    """A bag cannot be written or read: the message says why."""


def msg_dir() -> Path:
    """The installed `optimus_voice_msgs/msg` folder (an ament prefix, this venv, or the source tree)."""
    prefixes = [p for p in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep) if p] + [sys.prefix]
    candidates = [Path(p) / "share" / MSGS_PACKAGE / "msg" for p in prefixes]
    candidates.append(Path(__file__).resolve().parents[3] / MSGS_PACKAGE / "msg")
    for path in candidates:
        if any(path.glob("*.msg")):
            return path
    raise BagError(f"cannot find the {MSGS_PACKAGE} .msg files (looked in {', '.join(map(str, candidates))})")


@cache
def typestore():
    """A Jazzy typestore with the optimus_voice_msgs types added."""
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore

    store = get_typestore(Stores.ROS2_JAZZY)
    types: dict = {}
    for path in sorted(msg_dir().glob("*.msg")):
        types.update(get_types_from_msg(path.read_text(), f"{MSGS_PACKAGE}/msg/{path.stem}"))
    store.register(types)
    return store


@dataclass
class BagMessage:
    topic: str
    msgtype: str
    timestamp_ns: int   # when it was recorded (the bag's clock)
    rawdata: bytes      # CDR, as on the wire


class BagWriter:
    """Writes CDR messages to a new rosbag2 folder with mcap storage; a context manager."""

    def __init__(self, path: str | Path) -> None:
        from rosbags.rosbag2 import StoragePlugin, Writer

        self.path = Path(path)
        if self.path.exists():
            raise BagError(f"{self.path} already exists; rosbag2 writes a new folder")
        self._writer = Writer(self.path, version=BAG_VERSION, storage_plugin=StoragePlugin.MCAP)
        self._connections: dict[str, object] = {}
        self.count = 0

    def __enter__(self) -> BagWriter:
        self._writer.open()
        return self

    def __exit__(self, *exc) -> None:
        self._writer.close()

    def write_raw(self, topic: str, msgtype: str, timestamp_ns: int, rawdata: bytes) -> None:
        if topic not in self._connections:
            try:
                self._connections[topic] = self._writer.add_connection(topic, msgtype, typestore=typestore())
            except Exception as exc:  # rosbags raises its own types for unknown message types
                raise BagError(f"cannot record {topic}: unknown message type {msgtype} ({exc})") from exc
        self._writer.write(self._connections[topic], timestamp_ns, rawdata)
        self.count += 1

    def write(self, topic: str, msg, timestamp_ns: int) -> None:
        """Write a rosbags message object (see `typestore().types`)."""
        self.write_raw(topic, msg.__msgtype__, timestamp_ns, typestore().serialize_cdr(msg, msg.__msgtype__))


def read(path: str | Path, topic_names: Iterable[str] = ()) -> Iterator[BagMessage]:
    """Messages of a bag in time order, optionally only some topics. Messages of ours recorded with an older
    definition come as today's (audio_io.bag_upgrade)."""
    from rosbags.rosbag2 import Reader

    wanted = set(topic_names)
    try:
        reader = Reader(Path(path))
        reader.open()
    except Exception as exc:
        raise BagError(f"cannot open bag {path}: {exc}") from exc
    try:
        conns = [c for c in reader.connections if not wanted or c.topic in wanted]
        if not conns:  # rosbags reads every connection when given none
            return
        upgrades = {c.id: _upgrader(c) for c in conns}
        for conn, timestamp, rawdata in reader.messages(connections=conns):
            upgrade = upgrades[conn.id]
            yield BagMessage(conn.topic, conn.msgtype, timestamp,
                             upgrade(bytes(rawdata)) if upgrade else bytes(rawdata))
    finally:
        reader.close()


def connections(path: str | Path, topic_names: Iterable[str] = ()) -> dict[str, str]:
    """Topic -> message type of a bag's connections (optionally only some topics); an error if none."""
    from rosbags.rosbag2 import Reader

    wanted = set(topic_names)
    try:
        with Reader(Path(path)) as reader:
            found = {c.topic: c.msgtype for c in reader.connections if not wanted or c.topic in wanted}
    except Exception as exc:
        raise BagError(f"cannot open bag {path}: {exc}") from exc
    if not found:
        raise BagError(f"bag {path} has no topics" + (f" among {', '.join(sorted(wanted))}" if wanted else ""))
    return found


def upgrade(path: str | Path, out: str | Path) -> dict:
    """Copy a bag into a new one whose messages of ours follow today's definitions (see `read`)."""
    with BagWriter(out) as writer:
        for message in read(path):
            writer.write_raw(message.topic, message.msgtype, message.timestamp_ns, message.rawdata)
    return {"bag": str(out), "messages": writer.count}


def _upgrader(conn):
    """For a connection recorded with an older definition of one of our messages: its upgrade to today's."""
    from optimus_voice.audio_io.bag_upgrade import upgrader
    from rosbags.interfaces import MessageDefinitionFormat

    if conn.msgdef.format != MessageDefinitionFormat.MSG:  # none stored (an old sqlite3 bag), or IDL
        return None
    try:
        return upgrader(conn.msgtype, conn.msgdef.data, typestore())
    except Exception as exc:  # rosbags raises its own types for a definition it cannot parse
        raise BagError(f"{conn.topic}: cannot read {conn.msgtype} as recorded in this bag ({exc})") from exc


def deserialize(message: BagMessage):
    return typestore().deserialize_cdr(message.rawdata, message.msgtype)


def audio_frame(samples: np.ndarray, first_sample_index: int, stamp_ns: int, frame_id: str = "microphone"):
    """A rosbags `AudioFrame` (S16LE 16 kHz) for float32 samples: (n,) mono, or (n, channels) of an array."""
    types = typestore().types
    sec, nanosec = split_ns(stamp_ns)
    header = types["std_msgs/msg/Header"](stamp=types["builtin_interfaces/msg/Time"](sec=sec, nanosec=nanosec),
                                          frame_id=frame_id)
    data = np.frombuffer(to_s16le(samples), dtype=np.uint8)
    return types[f"{MSGS_PACKAGE}/msg/AudioFrame"](header=header, encoding=S16LE, sample_rate=SAMPLE_RATE,
                                                    channels=1 if samples.ndim == 1 else samples.shape[1],
                                                    first_sample_index=first_sample_index, turn_id=0,
                                                    double_talk=0.0, data=data)


def from_wavs(files: Iterable[str | Path], out: str | Path, *, frame_ms: float = 20.0, gap_s: float = 1.0,
              start_ns: int | None = None, lead_s: float = 0.0) -> dict:
    """Turn speech files into an `/audio/in` bag, as a microphone would have captured them.

    After `lead_s` of silence the files follow each other with `gap_s` of silence after each (so every turn
    ends), one continuous sample index, and stamps and record times on the audio clock from `start_ns` (now).
    """
    from optimus_voice.audio_io.sources import load_audio

    frame = int(SAMPLE_RATE * frame_ms / 1000)
    start_ns = now_ns() if start_ns is None else start_ns
    gap = np.zeros(int(gap_s * SAMPLE_RATE), np.float32)
    index = 0
    spans = []  # (first, end) sample index of each file's audio
    with BagWriter(out) as writer:
        lead = np.zeros(int(lead_s * SAMPLE_RATE), np.float32)
        for i, path in enumerate(files):
            speech = load_audio(path)
            first = index + (len(lead) if i == 0 else 0)
            spans.append((first, first + len(speech)))
            stream = np.concatenate([lead if i == 0 else gap[:0], speech, gap])
            for _, chunk in frames(stream, frame):
                stamp = start_ns + index * NS_PER_S // SAMPLE_RATE
                writer.write(topics.AUDIO_IN.name, audio_frame(chunk, index, stamp), stamp)
                index += len(chunk)
        count = writer.count
    return {"bag": str(out), "frames": count, "samples": index, "seconds": index / SAMPLE_RATE, "spans": spans}


def audio_chunks(path: str | Path, topic: str = topics.AUDIO_IN.name,
                 channels: int = 1) -> Iterator[tuple[np.ndarray, int, int, int]]:
    """(samples, first_sample_index, stamp_ns, record_ns) of each AudioFrame of one topic, validated: mono, or
    (n, channels) for a microphone array's frames, which must have that many."""
    for message in read(path, [topic]):
        msg = deserialize(message)
        if channels > 1 and msg.channels != channels:
            raise AudioFormatError(f"{topic} frames have {msg.channels} channel(s); the microphone array has "
                                   f"{channels}")
        samples = decode_pcm(msg.encoding, msg.sample_rate, msg.channels, bytes(msg.data),
                             keep_channels=channels > 1)
        yield samples, int(msg.first_sample_index), from_time(msg.header.stamp), message.timestamp_ns
