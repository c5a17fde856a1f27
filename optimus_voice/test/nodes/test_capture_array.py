"""A microphone array through the capture node and the real recognizer: two talkers placed at known directions in
a 4-channel file, every channel on /audio/in/array, the beam on /audio/in, each turn's direction on
/voice_direction; a geometry that cannot work is refused, and a file with the wrong channel count is reported."""

import math

import numpy as np
import soundfile as sf
from helpers import diagnostics_of, place, with_mic_noise
from optimus_voice.audio_io.sources import load_audio
from optimus_voice.contract import topics
from optimus_voice.contract.audio import SAMPLE_RATE
from test_params import param_set

SQUARE = [0.03, 0.03, 0.0, -0.03, 0.03, 0.0, -0.03, -0.03, 0.0, 0.03, -0.03, 0.0]
TALKERS = (("cv_what_did_he_look_like.wav", 60.0), ("cv_concourse.wav", -120.0))


def angle_error(a_rad: float, b_deg: float) -> float:
    return abs((math.degrees(a_rad) - b_deg + 180) % 360 - 180)


def test_each_turn_gets_its_talkers_direction_and_the_recognizer_the_beam(ros_graph, probe, data_dir, tmp_path):
    from optimus_voice.nodes.asr_node import AsrNode
    from optimus_voice.nodes.capture_node import CaptureNode

    silence = np.zeros((int(1.5 * SAMPLE_RATE), 4), np.float32)
    parts = [silence]
    for clip, azimuth in TALKERS:
        parts += [place(load_audio(data_dir / clip), SQUARE, azimuth), silence]
    path = tmp_path / "array.wav"
    sf.write(path, with_mic_noise(np.concatenate(parts), 30), SAMPLE_RATE)

    ros_graph.add(AsrNode, partial_interval_ms=0.0)
    capture = ros_graph.add(CaptureNode, activate=False, source="file", file_path=str(path), mic_positions=SQUARE)
    capture.trigger_configure()
    assert probe.wait_for(lambda: capture.pub.get_subscription_count() >= 2, 10)  # the recognizer and the probe
    assert probe.wait_for(lambda: capture.array_pub.get_subscription_count() >= 1, 10)
    capture.trigger_activate()

    finals = lambda: [m for m in probe.of(topics.VOICE_DIRECTION) if m.final]  # noqa: E731
    assert probe.wait_for(lambda: len(finals()) >= 2, 60), [m.turn_id for m in probe.of(topics.VOICE_DIRECTION)]
    ended = [m.turn_id for m in probe.of(topics.VOICE_ACTIVITY) if m.event == m.SPEECH_END]
    assert [m.turn_id for m in finals()] == ended[:2]
    for msg, (_, azimuth) in zip(finals(), TALKERS, strict=True):
        assert angle_error(msg.azimuth, azimuth) <= 6, (math.degrees(msg.azimuth), azimuth)
        assert msg.confidence > 0.3 and not msg.ambiguous and not msg.robot_speaking
        assert msg.header.frame_id == "microphone" and msg.speech_seconds > 0.5
        assert math.isclose(msg.direction.x, math.cos(msg.azimuth), abs_tol=1e-5)

    frame = probe.of(topics.AUDIO_ARRAY)[0]
    assert frame.channels == 4 and len(frame.data) == 4 * 2 * 320
    assert all(m.channels == 1 for m in probe.of(topics.AUDIO_IN))
    heard = " ".join(m.text.lower() for m in probe.of(topics.TRANSCRIPT) if m.is_final)
    assert "what did he look like" in heard and "concourse" in heard, heard  # through the beam
    assert probe.wait_for(lambda: diagnostics_of(probe, "capture").get("beam_turns") == "2", 5)
    # Each turn of the beam is an echo path change the canceller is told of.
    assert probe.wait_for(lambda: diagnostics_of(probe, "capture").get("echo_path_changes_by_beam") == "2", 5)
    diag = diagnostics_of(probe, "capture")
    assert diag["microphones"] == "4" and diag["array_output"] == "beam" and diag["array_geometry"] == "planar"
    assert abs(float(diag["beam_azimuth_deg"]) + 120) <= 6
    assert 0 < float(diag["array_cpu_pct_of_one_core"]) < 25


def test_a_geometry_that_cannot_work_is_refused_and_a_mono_file_reported(ros_graph, probe, data_dir):
    from optimus_voice.nodes.capture_node import CaptureNode

    capture = ros_graph.add(CaptureNode, activate=False, source="file", file_path=str(data_dir / "jfk.wav"))
    capture.trigger_configure()
    for value, reason in (([0.0, 0.1], "x, y, z for each"), ([0.0, 0.0, 0.0, 0.0, 0.0, 0.0], "same place"),
                          ([0.0, float("nan"), 0.0, 0.1, 0.0, 0.0], "finite")):
        result = param_set(probe, "capture", "mic_positions", value)
        assert not result.successful and reason in result.reason, (value, result.reason)
    assert param_set(probe, "capture", "mic_positions", SQUARE).successful
    capture.trigger_cleanup()
    capture.trigger_configure()
    capture.trigger_activate()
    assert probe.wait_for(lambda: int(diagnostics_of(probe, "capture").get("source_errors", 0)) >= 1, 10)
    status = [s for m in probe.of(topics.DIAGNOSTICS) for s in m.status if s.name == "optimus_voice/capture"]
    assert any("has 1 channel(s); the microphone array has 4" in s.message for s in status)
    assert capture.lifecycle_state() == "active"
    assert not param_set(probe, "capture", "mic_positions", [0.0, 0.0, 0.0]).successful  # active: refused
