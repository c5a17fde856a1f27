"""Microphone capture node: a device or a file source -> (a microphone array's beam) -> echo cancellation ->
/audio/in (AudioFrame, S16LE 16 kHz mono). The echo canceller's reference is the robot's own voice as played
(/audio/out/played). With a microphone array (mic_positions), every channel also goes to /audio/in/array, and the
direction of each turn's talker to /voice_direction."""

from __future__ import annotations

import math
import threading
import time

from geometry_msgs.msg import Vector3
from std_msgs.msg import Bool

from optimus_voice.audio_io import echo_path
from optimus_voice.audio_io.echo import MODES, EchoCanceller, EchoConfig, EchoError
from optimus_voice.audio_io.echo_path import EchoPathError, EchoPathKeeper
from optimus_voice.audio_io.mic_array import OUTPUTS, ArrayConfig, ArrayError, ArrayGeometry, ArrayProcessor
from optimus_voice.audio_io.sources import SourceError, open_source
from optimus_voice.contract import stamps, topics
from optimus_voice.contract.audio import S16LE, SAMPLE_RATE, to_s16le
from optimus_voice.contract.health import Level
from optimus_voice.nodes.base import VoiceNode, run
from optimus_voice.nodes.params import CONFIGURE, READ_ONLY, Param
from optimus_voice_msgs.msg import AudioFrame, VoiceActivity, VoiceDirection


def geometry_problem(flat) -> str | None:
    """Why a mic_positions value cannot be an array's geometry (one microphone, 3 numbers, is fine)."""
    if len(flat) == 3:
        return None
    try:
        ArrayGeometry.from_flat(flat)
    except ArrayError as exc:
        return str(exc)
    return None


class CaptureNode(VoiceNode):
    PARAMS = (
        Param("source", "device", "Audio source: 'device' (PortAudio microphone), 'file' (WAV/FLAC in real time) "
              "or 'bag' (the /audio/in frames of a rosbag, with their recorded timing).",
              choices=("device", "file", "bag"), when=CONFIGURE),
        Param("device", "", "Input device by name substring or index; empty: the system default.", when=CONFIGURE),
        Param("file_path", "", "Audio file (source 'file') or bag folder (source 'bag') played as the microphone.",
              when=READ_ONLY),
        Param("loop", False, "Loop the file or bag (a file gets a second of silence between loops).", when=CONFIGURE),
        Param("frame_ms", 20.0, "Frame length in milliseconds.", 5.0, 200.0, when=CONFIGURE),
        Param("retry_s", 2.0, "Seconds between attempts to (re)open a failing source.", 0.1, 60.0),
        Param("frame_id", "microphone", "frame_id of published frames (the microphone's TF frame).", when=CONFIGURE),
        Param("echo_cancel", "linear", "Remove the robot's own voice (the audio on echo_reference_topic): 'linear' "
              "(an adaptive filter that keeps the user's words when they talk over the robot), 'webrtc' (AEC3: more "
              "echo removed, and most of a user's words in double talk), 'both', or 'off'.",
              choices=(*MODES, "off"), when=CONFIGURE),
        Param("echo_filter_ms", 240.0, "Echo path the linear filter models (delay beyond the stamps + reverberation).",
              40.0, 1000.0, when=CONFIGURE),
        Param("echo_reference_delay_ms", 0.0, "Known delay of the speaker's audio beyond its stamps (a driver "
              "buffer); longer delays are also measured and followed.", -500.0, 2000.0, when=CONFIGURE),
        Param("noise_suppression", False, "WebRTC noise suppression after the echo canceller.", when=CONFIGURE),
        Param("echo_path_file", "$ROS_HOME/optimus_voice/echo_path.npz", "Where the canceller keeps the echo path "
              "it learnt (every 30 s while converged, and when deactivated), to start from it at the next start-up "
              "so that the robot's first words are cancelled too. $ROS_HOME is ~/.ros unless set; '': learn it "
              "anew at every start.", when=CONFIGURE),
        Param("mic_positions", [0.0, 0.0, 0.0], "Each microphone's x, y, z in metres in frame_id, in channel order "
              "(write 0.0, not 0). One microphone (3 numbers): mono capture. Two or more: a microphone array: every "
              "channel goes to /audio/in/array, the recognizer gets array_output, and each turn's talker direction "
              "is published on /voice_direction.", when=CONFIGURE, check=geometry_problem),
        Param("array_output", "beam", "What /audio/in gets from an array: 'beam' (delay and sum toward the talker) "
              "or 'channel' (array_channel alone).", choices=OUTPUTS, when=CONFIGURE),
        Param("array_channel", 0, "The microphone /audio/in gets when array_output is 'channel'.", 0, 63,
              when=CONFIGURE),
        Param("beam_azimuth_deg", 0.0, "Where the beam points at first (degrees, counter-clockwise from +x).",
              -180.0, 180.0, when=CONFIGURE),
        Param("beam_follow_talker", True, "Turn the beam to each turn's talker when the turn ends (before the robot "
              "answers: a beam that moves while the robot speaks changes the echo path under the canceller).",
              when=CONFIGURE),
    )

    def __init__(self, **kwargs) -> None:
        super().__init__("capture", **kwargs)
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._source = None
        self.echo: EchoCanceller | None = None
        self.keeper: EchoPathKeeper | None = None
        self.array: ArrayProcessor | None = None
        self._beam_turned = threading.Event()  # set on the executor, taken by the capture thread

    def configure_stage(self) -> None:
        self.pub = self.publisher(topics.AUDIO_IN)
        self._configure_array()
        self.echo = None
        mode = self.param("echo_cancel")
        if mode != "off" or self.param("noise_suppression"):
            try:
                self.echo = EchoCanceller(EchoConfig(
                    mode="linear" if mode == "off" else mode, filter_ms=self.param("echo_filter_ms"),
                    reference_delay_ms=self.param("echo_reference_delay_ms"),
                    noise_suppression=self.param("noise_suppression")))
            except EchoError as exc:  # the microphone still works without it
                self.get_logger().error(f"{exc}; capturing without echo cancellation")
                self.health.problem("echo_errors", str(exc), Level.ERROR)
            else:
                self.subscribe(topics.AUDIO_PLAYED, self.on_reference)
                self._restore_echo_path()
        self._state_pubs = {t.name: self.publisher(t) for t in (topics.ECHO_CANCELLED, topics.ECHO_LEARNING)}
        self._state: dict[str, bool] = {}  # the value each of them last published
        # Only a microphone in the room hears the speaker; a file or a bag has nothing to learn from it.
        self._in_room = self.param("source") == "device"
        self.health.set_value("echo_cancel", mode if self.echo is not None else "off")

    def _configure_array(self) -> None:
        self.array = None
        positions = list(self.param("mic_positions"))
        self.health.set_value("microphones", len(positions) // 3)
        if len(positions) == 3:
            return
        config = ArrayConfig(output=self.param("array_output"), channel=self.param("array_channel"),
                             azimuth_deg=self.param("beam_azimuth_deg"),
                             follow_talker=self.param("beam_follow_talker"))
        geometry = ArrayGeometry.from_flat(positions)  # checked when the parameter was set
        try:
            self.array = ArrayProcessor(geometry, config)
        except ArrayError as exc:  # array_channel beyond the microphones: the beam still works
            self.get_logger().error(f"{exc}; using the beam")
            self.health.problem("array_errors", str(exc), Level.ERROR)
            self.array = ArrayProcessor(geometry, ArrayConfig(azimuth_deg=config.azimuth_deg,
                                                              follow_talker=config.follow_talker))
        self.array_pub = self.publisher(topics.AUDIO_ARRAY)
        self.direction_pub = self.publisher(topics.VOICE_DIRECTION)
        self.subscribe(topics.VOICE_ACTIVITY, self.on_voice_activity)
        self.health.set_value("array_output", self.array.config.output)
        self.health.set_value("array_geometry", {1: "linear", 2: "planar", 3: "3-D"}[geometry.rank])

    def on_voice_activity(self, msg) -> None:
        """At a pause and at the end of a turn: the direction of its talker so far."""
        if msg.event not in (VoiceActivity.SPEECH_ONGOING, VoiceActivity.SPEECH_END) \
                or msg.end_sample_index <= msg.start_sample_index:
            return
        final = msg.event == VoiceActivity.SPEECH_END
        turns = self.array.steered
        found = self.array.direction(msg.start_sample_index, msg.end_sample_index, final)
        if self.array.steered != turns:
            self._beam_turned.set()
        if found is None:
            self.health.count("turns_without_direction")
            return
        unit = found.unit
        self.direction_pub.publish(VoiceDirection(
            header=self.header(stamps.from_time(msg.speech_end), self.param("frame_id")), turn_id=msg.turn_id,
            azimuth=found.azimuth, elevation=found.elevation,
            direction=Vector3(x=float(unit[0]), y=float(unit[1]), z=float(unit[2])),
            confidence=found.confidence, ambiguous=bool(found.ambiguous), robot_speaking=bool(found.robot_speaking),
            final=final, speech_seconds=found.speech_seconds))
        self.health.set_value("talker_azimuth_deg", round(math.degrees(found.azimuth), 1))
        self.health.set_value("talker_confidence", round(found.confidence, 2))
        self.health.set_value("beam_azimuth_deg", round(math.degrees(self.array.beam.azimuth), 1))
        self.health.set_value("beam_turns", self.array.steered)

    def _restore_echo_path(self) -> None:
        """Start the canceller from the echo path kept at the last run, if any (echo_path_file)."""
        file = echo_path.resolve(self.param("echo_path_file"))
        self.keeper = EchoPathKeeper(file) if file is not None and self.param("echo_cancel") in ("linear", "both") \
            else None
        restored = False
        if self.keeper is not None:
            try:
                restored = self.keeper.restore(self.echo)
            except EchoPathError as exc:  # the canceller learns the path from nothing, as without a file
                self.get_logger().warning(f"{exc}; learning the echo path anew")
                self.health.problem("echo_path_errors", str(exc))
        self.health.set_value("echo_path_file", str(file) if self.keeper is not None else "")
        self.health.set_value("echo_started_from_path", restored)

    def _keep_echo_path(self, at_end: bool = False) -> None:
        if self.keeper is None or self.echo is None:
            return
        try:
            kept = (self.keeper.save if at_end else self.keeper.tick)(self.echo, time.monotonic())
        except OSError as exc:
            self.get_logger().error(f"cannot keep the echo path in {self.keeper.file}: {exc}",
                                    throttle_duration_sec=60.0)
            self.health.problem("echo_path_errors", f"cannot write {self.keeper.file}: {exc}")
            return
        if kept:
            self.health.set_value("echo_path_saves", self.keeper.saves)

    def on_reference(self, msg) -> None:
        """The robot's voice as the speaker played it: the echo canceller's reference."""
        samples = self.decode_frame(msg, "rejected_reference_frames")
        if samples is None:
            return
        self.echo.reference(samples, stamps.from_time(msg.header.stamp), msg.sample_rate)

    def activate_stage(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._capture_loop, name="capture", daemon=True)
        self._thread.start()

    def deactivate_stage(self) -> None:
        self._stop.set()
        if self._source is not None:
            self._source.stop()
        if self._thread is not None:
            self._thread.join(timeout=3.0)
        self._keep_echo_path(at_end=True)

    def cleanup_stage(self) -> None:
        self.deactivate_stage()

    def _capture_loop(self) -> None:
        expected = None
        while not self._stop.is_set():
            try:
                self._source = open_source(self.param("source"), device=self.param("device"),
                                           file_path=self.param("file_path"), loop=self.param("loop"),
                                           frame_ms=self.param("frame_ms"), clock=self.now_ns,
                                           channels=self.array.geometry.n if self.array is not None else 1)
                self.health.set_status(Level.OK, f"capturing from {self.param('source')}")
                for chunk in self._source.chunks():
                    if self._stop.is_set():
                        return
                    if expected is not None and chunk.first_sample_index != expected:
                        self.health.count("dropped_samples", max(0, chunk.first_sample_index - expected))
                        self.health.problem("gaps", f"gap of {chunk.first_sample_index - expected} samples")
                    expected = chunk.first_sample_index + len(chunk.samples)
                    if self.array is not None:
                        chunk = self._from_array(chunk)
                    self._publish(self._cancel_echo(chunk) if self.echo is not None else [chunk])
                if self.echo is not None:
                    self._publish(self.echo.flush())  # the end of a file: its last few milliseconds
                if self.param("source") in ("file", "bag"):
                    self.health.set_status(Level.OK, f"end of {self.param('source')}")
                    return
            except SourceError as exc:
                self.get_logger().error(str(exc), throttle_duration_sec=10.0)
                self.health.problem("source_errors", str(exc), Level.ERROR)
                self.health.set_status(Level.ERROR, str(exc))
                self._stop.wait(self.param("retry_s"))
            except Exception:
                if not self.context.ok():  # Ctrl-C shut ROS down before this thread stopped: nothing to report
                    return
                raise

    def _publish(self, chunks: list) -> None:
        for chunk in chunks:
            self.pub.publish(AudioFrame(
                header=self.header(chunk.stamp_ns, self.param("frame_id")), encoding=S16LE,
                sample_rate=SAMPLE_RATE, channels=1, first_sample_index=chunk.first_sample_index,
                turn_id=0, double_talk=chunk.double_talk, data=to_s16le(chunk.samples)))
            self.health.count("frames_published")

    def _from_array(self, chunk):
        """Every channel to /audio/in/array; the beam (or one channel) on to the echo canceller."""
        self.array_pub.publish(AudioFrame(
            header=self.header(chunk.stamp_ns, self.param("frame_id")), encoding=S16LE, sample_rate=SAMPLE_RATE,
            channels=self.array.geometry.n, first_sample_index=chunk.first_sample_index, turn_id=0,
            data=to_s16le(chunk.samples)))
        mono = self.array.process(chunk, robot_speaking=self.echo is not None and self.echo.stats.reference_active)
        self.health.set_value("array_cpu_pct_of_one_core", round(self.array.cpu_ms_per_s / 10, 2))
        return mono

    def _cancel_echo(self, chunk) -> list:
        if self._beam_turned.is_set():  # the beam hears the speaker differently now
            self._beam_turned.clear()
            self.echo.path_changed()
            self.health.count("echo_path_changes_by_beam")
        out = self.echo.process(chunk)
        self.health.count("echo_frames")
        st = self.echo.stats
        if st.reference_active:
            self.health.set_value("echo_erle_db", st.erle_db)
            self.health.set_value("echo_delay_ms", st.delay_ms)
            self.health.set_value("echo_delay_sharpness", st.delay_sharpness)
            self.health.set_value("echo_path_changes", st.path_changes)
        self.health.set_value("echo_cpu_pct_of_one_core", round(st.cpu_ms_per_s / 10, 2))
        self.health.set_value("echo_reference_late_s", round(st.late_reference_s, 2))
        self._keep_echo_path()
        # Once the microphone runs: whether the canceller has converged (the dialogue's barge-in rules), and whether
        # it is still learning the room from nothing (the TTS node plays its learning sound, the dialogue waits for
        # words).
        self._publish_state(topics.ECHO_CANCELLED, "echo_converged", st.converged)
        self._publish_state(topics.ECHO_LEARNING, "echo_learning", self._in_room and st.learning)
        return out

    def _publish_state(self, topic: topics.Topic, key: str, value: bool) -> None:
        """A latched Bool, published (and set on /diagnostics as `key`) when it changes."""
        if self._state.get(topic.name) != value:
            self._state[topic.name] = value
            self._state_pubs[topic.name].publish(Bool(data=value))
            self.health.set_value(key, value)


def main(args: list[str] | None = None) -> None:
    run(CaptureNode, args)
