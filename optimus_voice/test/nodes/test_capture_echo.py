"""The capture node cancels the robot's voice that comes back into its microphone, with what the speaker node
reports it played (/audio/out/played) as the reference, and says how well on /diagnostics."""

import time

import numpy as np
import pytest
import soundfile as sf
from helpers import diagnostics_of, steady_voice, wait_matched
from optimus_voice.audio_io import echo_path
from optimus_voice.audio_io.echo import EchoCanceller
from optimus_voice.audio_io.sources import AudioChunk, load_audio
from optimus_voice.contract import topics
from optimus_voice.contract.audio import SAMPLE_RATE, to_s16le
from optimus_voice.contract.stamps import NS_PER_S, from_time, now_ns, to_time
from optimus_voice.tools.room import Room, convolve

LEAD_S = 1.0  # the robot starts speaking this long after the microphone file starts
BASE = 10 ** 15  # stamps of the run that learnt the kept path
AHEAD_NS = 300_000_000  # the speaker reports what it plays this long before it plays it


@pytest.mark.parametrize("user_talks,kept", [(False, False), (True, False), (False, True)])
def test_capture_removes_the_robot_voice_it_is_told_was_played(ros_graph, probe, tmp_path, ros_home, data_dir,
                                                               user_talks, kept):
    """kept: the node starts from the echo path it kept at its last run ($ROS_HOME), and cancels the robot's
    first words too."""
    from optimus_voice.nodes.capture_node import CaptureNode

    from optimus_voice_msgs.msg import AudioFrame

    voice16, voice, rate = steady_voice("I can tell you about the weather, set a timer, or just keep you company. "
                                        "The kitchen is at the end of the hallway, on your left, past the blue room.")
    room = Room(delay_ms=40)
    mic = np.concatenate([np.zeros(int(LEAD_S * SAMPLE_RATE), np.float32),
                          0.5 * convolve(voice16, room.impulse_response())])
    # A user talks over the robot for a second and a half, before the last 3 s that the echo removed is measured on.
    user = load_audio(data_dir / "jfk.wav")[:int(1.5 * SAMPLE_RATE)]
    user_at = int((LEAD_S + 2.5) * SAMPLE_RATE)
    if user_talks:
        mic[user_at:user_at + len(user)] += 0.5 * user
    path = tmp_path / "mic.wav"
    sf.write(path, mic, SAMPLE_RATE)
    kept_file = ros_home / "optimus_voice" / "echo_path.npz"
    if kept:  # the path a run in this room learnt, as the node keeps it
        learnt = EchoCanceller()
        learnt.process(AudioChunk(mic[:320], 0, BASE))
        learnt.reference(voice, BASE + int(LEAD_S * NS_PER_S), rate)
        for i in range(320, len(mic) - 319, 320):
            learnt.process(AudioChunk(mic[i:i + 320], i, BASE + i * NS_PER_S // SAMPLE_RATE))
        echo_path.save(learnt.learnt_path(), kept_file)

    capture = ros_graph.add(CaptureNode, activate=False, source="file", file_path=str(path))
    capture.trigger_configure()
    played = probe.publisher(topics.AUDIO_PLAYED)
    assert wait_matched(probe, topics.AUDIO_PLAYED, capture)
    assert probe.wait_for(lambda: capture.pub.get_subscription_count() >= 1, 10)
    capture.trigger_activate()
    assert probe.wait_for(lambda: probe.of(topics.AUDIO_IN), 10)
    # The speaker's report of what it played, at its own rate, stamped on the microphone's clock, sent a little
    # ahead of its moment as a speaker does. (All of it at once, 400 kB in a burst, was once held back by DDS past
    # its moment in CI: nothing cancelled.)
    start = probe.of(topics.AUDIO_IN)[0]
    t0 = from_time(start.header.stamp) - start.first_sample_index * NS_PER_S // SAMPLE_RATE
    step = rate // 5
    for i in range(0, len(voice), step):
        stamp = t0 + int(LEAD_S * NS_PER_S) + i * NS_PER_S // rate
        time.sleep(max(0.0, (stamp - AHEAD_NS - now_ns()) / NS_PER_S))
        msg = AudioFrame(encoding="S16LE", sample_rate=rate, channels=1, turn_id=1, data=to_s16le(voice[i:i + step]))
        msg.header.stamp = to_time(stamp)
        played.publish(msg)

    n = len(mic) // 320 * 320
    assert probe.wait_for(lambda: sum(len(m.data) // 2 for m in probe.of(topics.AUDIO_IN)) >= n, 30)
    heard = np.concatenate([np.frombuffer(bytes(m.data), "<i2") for m in probe.of(topics.AUDIO_IN)]) / 32768.0
    last = slice(n - 3 * SAMPLE_RATE, n)  # after the filter converged
    erle = 10 * np.log10(np.mean(mic[last] ** 2) / np.mean(heard[last] ** 2))
    late = diagnostics_of(probe, "capture").get("echo_reference_late_s")
    assert erle > 20, f"only {erle:.1f} dB of echo removed; {late} s of the reference came after its moment"
    first = slice(int(LEAD_S * SAMPLE_RATE), int((LEAD_S + 1) * SAMPLE_RATE))  # the robot's first second
    first_db = 10 * np.log10(np.mean(mic[first] ** 2) / np.mean(heard[first] ** 2))
    if kept:
        assert first_db > 15, f"only {first_db:.1f} dB removed from the first words"
    # Each frame says how much of it the canceller heard as a voice over the robot's: the user's, not the robot's.
    frames = probe.of(topics.AUDIO_IN)
    over = [m.double_talk for m in frames if user_at <= m.first_sample_index < user_at + len(user)]
    alone = [m.double_talk for m in frames if m.first_sample_index >= last.start]
    assert all(0.0 <= m.double_talk <= 1.0 for m in frames)
    assert np.mean(alone) < 0.1, np.mean(alone)
    if user_talks:
        assert sum(d > 0.5 for d in over) >= 10, over
        return  # the echo removed as measured (/diagnostics) is lowered by double talk, as it says
    assert np.mean(over) < 0.1, over
    diag = diagnostics_of(probe, "capture")
    assert diag["echo_cancel"] == "linear"
    assert float(diag["echo_erle_db"]) > 10
    assert abs(float(diag["echo_delay_ms"]) - 40) < 10
    assert float(diag["echo_cpu_pct_of_one_core"]) < 10
    assert float(diag["echo_reference_late_s"]) == 0
    # It kept the path it learnt, for the next start-up.
    assert diag["echo_started_from_path"] == str(kept)
    assert int(diag["echo_path_saves"]) >= 1 and kept_file.exists()
    # The dialogue is told that the microphone is free of the robot's voice (a faster barge-in rule applies).
    assert [m.data for m in probe.of(topics.ECHO_CANCELLED)] == [False, True]


def test_bad_reference_frames_are_counted_and_the_microphone_goes_on(ros_graph, probe, data_dir):
    from optimus_voice.nodes.capture_node import CaptureNode

    from optimus_voice_msgs.msg import AudioFrame

    capture = ros_graph.add(CaptureNode, source="file", file_path=str(data_dir / "cv_concourse.wav"), loop=True)
    played = probe.publisher(topics.AUDIO_PLAYED)
    assert wait_matched(probe, topics.AUDIO_PLAYED, capture)
    for bad in (AudioFrame(encoding="MP3", sample_rate=22050, channels=1, data=b"\x00\x00"),
                AudioFrame(encoding="S16LE", sample_rate=22050, channels=1, data=b"\x01\x02\x03")):
        played.publish(bad)
    assert probe.wait_for(
        lambda: int(diagnostics_of(probe, "capture").get("rejected_reference_frames", 0)) == 2, 10)
    count = len(probe.of(topics.AUDIO_IN))
    assert probe.wait_for(lambda: len(probe.of(topics.AUDIO_IN)) > count + 10, 5)
