"""Microphone capture node: a device or a file source -> echo cancellation -> /audio/in (AudioFrame, S16LE 16 kHz
mono). The echo canceller's reference is the robot's own voice as played (/audio/out/played)."""

from __future__ import annotations

import threading

from std_msgs.msg import Bool

from optimus_voice.audio_io.echo import MODES, EchoCanceller, EchoConfig, EchoError
from optimus_voice.audio_io.sources import SourceError, open_source
from optimus_voice.contract import stamps, topics
from optimus_voice.contract.audio import S16LE, SAMPLE_RATE, to_s16le
from optimus_voice.contract.health import Level
from optimus_voice.nodes.base import VoiceNode, run
from optimus_voice.nodes.params import CONFIGURE, READ_ONLY, Param
from optimus_voice_msgs.msg import AudioFrame


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
    )

    def __init__(self, **kwargs) -> None:
        super().__init__("capture", **kwargs)
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._source = None
        self.echo: EchoCanceller | None = None

    def configure_stage(self) -> None:
        self.pub = self.publisher(topics.AUDIO_IN)
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
        self.echo_pub = self.publisher(topics.ECHO_CANCELLED)
        self._echo_free: bool | None = None
        self.health.set_value("echo_cancel", mode if self.echo is not None else "off")

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

    def cleanup_stage(self) -> None:
        self.deactivate_stage()

    def _capture_loop(self) -> None:
        expected = None
        while not self._stop.is_set():
            try:
                self._source = open_source(self.param("source"), device=self.param("device"),
                                           file_path=self.param("file_path"), loop=self.param("loop"),
                                           frame_ms=self.param("frame_ms"), clock=self.now_ns)
                self.health.set_status(Level.OK, f"capturing from {self.param('source')}")
                for chunk in self._source.chunks():
                    if self._stop.is_set():
                        return
                    if expected is not None and chunk.first_sample_index != expected:
                        self.health.count("dropped_samples", max(0, chunk.first_sample_index - expected))
                        self.health.problem("gaps", f"gap of {chunk.first_sample_index - expected} samples")
                    expected = chunk.first_sample_index + len(chunk.samples)
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
                turn_id=0, data=to_s16le(chunk.samples)))
            self.health.count("frames_published")

    def _cancel_echo(self, chunk) -> list:
        out = self.echo.process(chunk)
        self.health.count("echo_frames")
        st = self.echo.stats
        if st.reference_active:
            self.health.set_value("echo_erle_db", st.erle_db)
            self.health.set_value("echo_delay_ms", st.delay_ms)
            self.health.set_value("echo_delay_sharpness", st.delay_sharpness)
        self.health.set_value("echo_cpu_pct_of_one_core", round(st.cpu_ms_per_s / 10, 2))
        if st.converged != self._echo_free:
            self._echo_free = st.converged
            self.echo_pub.publish(Bool(data=st.converged))
            self.health.set_value("echo_converged", st.converged)
        return out


def main(args: list[str] | None = None) -> None:
    run(CaptureNode, args)
