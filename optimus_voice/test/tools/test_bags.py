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
