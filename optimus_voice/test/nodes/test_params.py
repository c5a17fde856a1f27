"""`ros2 param set` as a robot engineer would use it: bad values are refused with the reason and nothing breaks,
a setting that only takes effect at configure is refused while active, paths are read-only, good values take
effect at once; a bad value in a parameter file is reported and the default used."""

from helpers import diagnostics_of
from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue
from rcl_interfaces.srv import SetParameters


def param_set(probe, node: str, name: str, value):
    """What `ros2 param set /node name value` does: one request to the node's set_parameters service."""
    client = probe.node.create_client(SetParameters, f"/{node}/set_parameters")
    assert client.wait_for_service(timeout_sec=10)
    kind = {bool: ParameterType.PARAMETER_BOOL, int: ParameterType.PARAMETER_INTEGER,
            float: ParameterType.PARAMETER_DOUBLE, str: ParameterType.PARAMETER_STRING,
            list: ParameterType.PARAMETER_DOUBLE_ARRAY}[type(value)]
    field = {bool: "bool_value", int: "integer_value", float: "double_value", str: "string_value",
             list: "double_array_value"}[type(value)]
    request = SetParameters.Request(parameters=[Parameter(name=name, value=ParameterValue(type=kind,
                                                                                          **{field: value}))])
    future = client.call_async(request)
    assert probe.wait_for(lambda: future.done(), 10)
    probe.node.destroy_client(client)
    return future.result().results[0]


def test_bad_values_are_refused_with_the_reason_and_good_ones_take_effect(ros_graph, probe):
    from optimus_voice.nodes.face_node import FaceNode
    from optimus_voice.nodes.tts_node import TtsNode

    face = ros_graph.add(FaceNode)
    ros_graph.add(TtsNode, playback_feedback=False)
    refused = {
        ("face", "still_rate_hz", 0.0): "range",              # was a ZeroDivisionError that killed the node
        ("face", "smoothing_s", float("nan")): "",
        ("face", "rate_hz", 20.0): "refused while the node is active",
        ("face", "smoothing_s", "fast"): "",                  # the wrong type: refused by rclpy
        ("tts", "voice_path", "/tmp/other.onnx"): "read-only",
        ("tts", "frame_ms", 1e6): "range",
    }
    for (node, name, value), reason in refused.items():
        result = param_set(probe, node, name, value)
        assert not result.successful and reason in result.reason, (name, value, result.reason)
    assert face.lifecycle_state() == "active" and face.param("still_rate_hz") == 5.0
    # The value it has, though, is no change: `ros2 param load` of a `ros2 param dump` sets every parameter.
    assert param_set(probe, "face", "rate_hz", face.param("rate_hz")).successful
    assert param_set(probe, "face", "smoothing_s", 0.05).successful
    assert face.mixer.smoothing_s == 0.05  # at once, in the engine
    assert probe.wait_for(lambda: int(diagnostics_of(probe, "face").get("parameters_refused", 0)) >= 1, 5)
    # Settings read at configure may be changed while the node is not active.
    face.trigger_deactivate()
    assert param_set(probe, "face", "rate_hz", 20.0).successful
    face.trigger_activate()
    assert face.lifecycle_state() == "active"


def test_a_whole_number_for_a_float_is_that_number(ros_graph, probe):
    """`ros2 param set /face smoothing_s 1` sends an integer: rclpy refused it for a float parameter ("Wrong parameter
    type, expected 'Type.DOUBLE' got 'Type.INTEGER'", found with the real ros2cli); it means 1.0. Out of range, it is
    still refused for that."""
    from optimus_voice.nodes.face_node import FaceNode

    face = ros_graph.add(FaceNode)
    result = param_set(probe, "face", "smoothing_s", 1)
    assert result.successful, result.reason
    assert face.param("smoothing_s") == 1.0 and type(face.param("smoothing_s")) is float
    assert face.mixer.smoothing_s == 1.0
    result = param_set(probe, "face", "still_rate_hz", 0)
    assert not result.successful and "range" in result.reason, result.reason
    assert face.param("still_rate_hz") == 5.0


def test_a_bad_value_in_a_parameter_file_is_reported_and_the_default_used(ros_graph, probe, tmp_path):
    from optimus_voice.nodes.audio_out_node import AudioOutNode
    from rclpy.parameter import Parameter as Override

    node = AudioOutNode(parameter_overrides=[Override("sample_rate", value=12345), Override("output", value="wav"),
                                             Override("status_period_ms", value=50),  # an int for a float
                                             Override("wav_path", value=str(tmp_path / "out.wav"))])
    ros_graph.executor.add_node(node)
    ros_graph.nodes.append(node)
    assert node.param("sample_rate") == 22050 and node.param("status_period_ms") == 50.0
    node.trigger_configure()
    node.trigger_activate()
    assert node.lifecycle_state() == "active"
    assert probe.wait_for(lambda: diagnostics_of(probe, "audio_out").get("bad_parameters") == "1", 5)


def test_a_bare_off_is_the_choice_off_not_a_bad_boolean(ros_graph):
    """`--set capture.echo_cancel=off` or `echo_cancel:=off` reach the node as YAML's false."""
    from optimus_voice.nodes.capture_node import CaptureNode
    from rclpy.parameter import Parameter as Override

    node = CaptureNode(parameter_overrides=[Override("echo_cancel", value=False)])
    ros_graph.executor.add_node(node)
    ros_graph.nodes.append(node)
    assert node.param("echo_cancel") == "off"
    assert node.health.counters.get("bad_parameters", 0) == 0
