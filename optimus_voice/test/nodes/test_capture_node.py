"""The capture node replays a bag as the microphone: every sample, in order, recorded again whole."""

import threading

import numpy as np
from optimus_voice.audio_io import bags
from optimus_voice.contract import topics
from optimus_voice.contract.audio import to_s16le


def test_capture_node_replays_a_bag_and_the_recorder_gets_every_sample(ros_graph, probe, domain_id, speech_bag,
                                                                       tmp_path, bag_samples):
    """bag -> capture node (source 'bag') -> /audio/in -> `bag record` -> a new bag with the same samples."""
    from optimus_voice.nodes.capture_node import CaptureNode
    from optimus_voice.tools import bag_ros

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
    np.testing.assert_array_equal(got, bag_samples)
    replayed = np.concatenate([s for s, _, _, _ in bags.audio_chunks(recorded)])
    np.testing.assert_array_equal(to_s16le(replayed), got.tobytes())
