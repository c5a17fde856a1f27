"""rosbag2 (mcap) bags of real speech: written by us, read by an independent reader, replayed through the graph."""

import itertools
import json
import subprocess
import sys
import threading

import numpy as np
import pytest
from optimus_voice.audio import SAMPLE_RATE, to_s16le
from optimus_voice.engines.audio_source import BagSource, SourceError, load_audio

from optimus_voice import bags, topics

CLIPS = ("cv_what_did_he_look_like.wav", "cv_concourse.wav")
GAP_S = 0.3


def expected_samples(data_dir) -> np.ndarray:
    """What a bag of CLIPS must hold: each clip then GAP_S of silence, as S16LE."""
    parts = []
    for name in CLIPS:
        parts += [load_audio(data_dir / name), np.zeros(int(GAP_S * SAMPLE_RATE), np.float32)]
    return np.frombuffer(to_s16le(np.concatenate(parts)), dtype="<i2")


@pytest.fixture
def speech_bag(tmp_path, data_dir):
    out = tmp_path / "speech"
    result = subprocess.run([sys.executable, "-m", "optimus_voice.cli.main", "bag", "from-wav",
                             *(str(data_dir / c) for c in CLIPS), "-o", str(out), "--gap", str(GAP_S)],
                            capture_output=True, text=True, check=True)
    assert json.loads(result.stdout)["frames"] > 0
    return out


def test_independent_mcap_reader_decodes_the_original_samples(speech_bag, data_dir):
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
    np.testing.assert_array_equal(np.concatenate(chunks), expected_samples(data_dir))
    # Stamps follow the audio clock: each frame starts when the previous one's samples end.
    durations = [len(c) * 10**9 // SAMPLE_RATE for c in chunks]
    assert [b - a for a, b in itertools.pairwise(stamps)] == durations[:-1]


def test_bag_source_yields_every_sample_in_order(speech_bag, data_dir):
    source = BagSource(speech_bag, realtime=False)
    chunks = list(source.chunks())
    assert [c.first_sample_index for c in chunks] == list(np.cumsum([0] + [len(c.samples) for c in chunks[:-1]]))
    got = np.frombuffer(to_s16le(np.concatenate([c.samples for c in chunks])), dtype="<i2")
    np.testing.assert_array_equal(got, expected_samples(data_dir))


def test_bag_source_reports_missing_and_empty_bags(tmp_path, speech_bag):
    with pytest.raises(SourceError, match="does not exist"):
        BagSource(tmp_path / "nope")
    with pytest.raises(SourceError, match="no messages on /other"):
        BagSource(speech_bag, topic="/other")
    (tmp_path / "junk").mkdir()
    with pytest.raises(SourceError, match="cannot open bag"):
        BagSource(tmp_path / "junk")


def test_capture_node_replays_a_bag_and_the_recorder_gets_every_sample(ros_graph, probe, domain_id, speech_bag,
                                                                       tmp_path, data_dir):
    """bag -> capture node (source 'bag') -> /audio/in -> `bag record` -> a new bag with the same samples."""
    from optimus_voice.nodes.capture_node import CaptureNode

    from optimus_voice import bag_ros

    capture = ros_graph.add(CaptureNode, activate=False, source="bag", file_path=str(speech_bag))
    capture.trigger_configure()
    n_frames = sum(1 for _ in bags.read(speech_bag))
    result = {}
    recorded = tmp_path / "recorded"
    recorder = threading.Thread(target=lambda: result.update(bag_ros.record(
        recorded, [topics.AUDIO_IN.name], max_messages=n_frames, duration_s=60, domain_id=domain_id)))
    recorder.start()
    # Both listeners (the recorder and the probe) must match before the first frame is sent.
    assert probe.wait_for(lambda: capture.pub.get_subscription_count() >= 2, 10)
    capture.trigger_activate()
    assert probe.wait_for(lambda: len(probe.of(topics.AUDIO_IN)) >= n_frames, 20)
    recorder.join(20)
    assert result["messages"][topics.AUDIO_IN.name] == n_frames

    live = probe.of(topics.AUDIO_IN)
    assert [m.first_sample_index for m in live] == [i for _, i, _, _ in bags.audio_chunks(speech_bag)]
    got = np.concatenate([np.frombuffer(bytes(m.data), dtype="<i2") for m in live])
    np.testing.assert_array_equal(got, expected_samples(data_dir))
    replayed = np.concatenate([s for s, _, _, _ in bags.audio_chunks(recorded)])
    np.testing.assert_array_equal(to_s16le(replayed), got.tobytes())


def test_bag_play_reproduces_recorded_timing(probe, domain_id, speech_bag):
    from optimus_voice import bag_ros

    result = bag_ros.play(speech_bag, rate=4.0, names=[topics.AUDIO_IN.name], wait_subscribers_s=10,
                          domain_id=domain_id)
    n_frames = sum(1 for _ in bags.read(speech_bag))
    assert result["messages"][topics.AUDIO_IN.name] == n_frames
    assert probe.wait_for(lambda: len(probe.of(topics.AUDIO_IN)) >= n_frames, 5)
    arrivals = [t for t, _ in probe.messages[topics.AUDIO_IN.name]]
    recorded_s = (n_frames - 1) * 0.020
    # Paced, not dumped, and at rate 4 about a quarter of the recorded span (bounds loose for a loaded machine).
    assert 0.2 * recorded_s < arrivals[-1] - arrivals[0] < 0.7 * recorded_s
