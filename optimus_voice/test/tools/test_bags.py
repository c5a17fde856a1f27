"""rosbag2 (mcap) bags of real speech: written by us, read by an independent reader, played with their timing."""

import itertools

import numpy as np
from optimus_voice.audio_io import bags
from optimus_voice.contract import topics
from optimus_voice.contract.audio import SAMPLE_RATE


def test_independent_mcap_reader_decodes_the_original_samples(speech_bag, bag_samples):
    from mcap.reader import make_reader
    from mcap_ros2.decoder import DecoderFactory

    assert (speech_bag / "metadata.yaml").exists()
    mcap_files = list(speech_bag.glob("*.mcap"))
    assert len(mcap_files) == 1
    chunks, next_index, stamps = [], 0, []
    with mcap_files[0].open("rb") as f:
        reader = make_reader(f, decoder_factories=[DecoderFactory()])
        for schema, channel, _, msg in reader.iter_decoded_messages():
            assert (schema.name, channel.topic) == ("optimus_voice_msgs/msg/AudioFrame", topics.AUDIO_IN.name)
            assert (msg.encoding, msg.sample_rate, msg.channels) == ("S16LE", SAMPLE_RATE, 1)
            assert msg.first_sample_index == next_index, "sample indices are not continuous"
            samples = np.frombuffer(bytes(msg.data), dtype="<i2")
            next_index += len(samples)
            chunks.append(samples)
            stamps.append(msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec)
    np.testing.assert_array_equal(np.concatenate(chunks), bag_samples)
    # Stamps follow the audio clock: each frame starts when the previous one's samples end.
    durations = [len(c) * 10**9 // SAMPLE_RATE for c in chunks]
    assert [b - a for a, b in itertools.pairwise(stamps)] == durations[:-1]


def test_bag_play_reproduces_recorded_timing(probe, domain_id, speech_bag):
    from optimus_voice.tools import bag_ros

    result = bag_ros.play(speech_bag, rate=4.0, names=[topics.AUDIO_IN.name], wait_subscribers_s=10,
                          domain_id=domain_id)
    n_frames = sum(1 for _ in bags.read(speech_bag))
    assert result["messages"][topics.AUDIO_IN.name] == n_frames
    assert probe.wait_for(lambda: len(probe.of(topics.AUDIO_IN)) >= n_frames, 5)
    arrivals = [t for t, _ in probe.messages[topics.AUDIO_IN.name]]
    recorded_s = (n_frames - 1) * 0.020
    # Paced, not dumped, and at rate 4 about a quarter of the recorded span (bounds loose for a loaded machine).
    assert 0.2 * recorded_s < arrivals[-1] - arrivals[0] < 0.7 * recorded_s


def test_a_bag_recorded_with_an_older_audio_frame_is_read_as_todays(tmp_path, bag_samples):
    """A bag from before AudioFrame.double_talk existed: its audio comes back intact, the new field at 0, and its
    CDR is today's (what `bag play` publishes to today's nodes)."""
    from rosbags.rosbag2 import StoragePlugin, Writer
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore

    old_definition = (bags.msg_dir() / "AudioFrame.msg").read_text().replace("float32 double_talk", "")
    assert "double_talk" not in old_definition.split("#")[0]
    msgtype = f"{bags.MSGS_PACKAGE}/msg/AudioFrame"
    old = get_typestore(Stores.ROS2_JAZZY)
    old.register(get_types_from_msg(old_definition, msgtype))
    Frame, Header, Time = old.types[msgtype], old.types["std_msgs/msg/Header"], old.types["builtin_interfaces/msg/Time"]
    samples = bag_samples[:3200]
    writer = Writer(tmp_path / "old", version=bags.BAG_VERSION, storage_plugin=StoragePlugin.MCAP)
    writer.open()
    conn = writer.add_connection(topics.AUDIO_IN.name, msgtype, typestore=old)
    for i in range(0, len(samples), 320):
        frame = Frame(header=Header(stamp=Time(sec=1, nanosec=i * 62500), frame_id="microphone"), encoding="S16LE",
                      sample_rate=SAMPLE_RATE, channels=1, first_sample_index=i, turn_id=0,
                      data=np.frombuffer(samples[i:i + 320].astype("<i2").tobytes(), np.uint8))
        writer.write(conn, 10**9 + i * 62500, old.serialize_cdr(frame, msgtype))
    writer.close()

    frames = [bags.deserialize(m) for m in bags.read(tmp_path / "old")]
    assert [f.first_sample_index for f in frames] == list(range(0, len(samples), 320))
    assert all(f.double_talk == 0.0 and f.header.frame_id == "microphone" for f in frames)
    heard = np.concatenate([np.frombuffer(bytes(f.data), "<i2") for f in frames])
    np.testing.assert_array_equal(heard, samples)
    # `bag upgrade` writes it out with today's definition, for tools that read the bag as it is (ros2 bag play).
    import subprocess
    import sys

    from rosbags.rosbag2 import Reader

    subprocess.run([sys.executable, "-m", "optimus_voice.tools.cli.main", "bag", "upgrade", str(tmp_path / "old"),
                    "-o", str(tmp_path / "new")], check=True, capture_output=True)
    reader = Reader(tmp_path / "new")
    reader.open()
    assert "float32 double_talk" in reader.connections[0].msgdef.data
    reader.close()
    upgraded = [bags.deserialize(m) for m in bags.read(tmp_path / "new")]
    assert [f.data.tobytes() for f in upgraded] == [f.data.tobytes() for f in frames]
