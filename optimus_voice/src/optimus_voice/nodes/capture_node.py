"""Microphone capture node: a device or a file source -> /audio/in (AudioFrame, S16LE 16 kHz mono)."""

from __future__ import annotations

import threading

from optimus_voice.audio_io.sources import SourceError, open_source
from optimus_voice.contract import topics
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
    )

    def __init__(self, **kwargs) -> None:
        super().__init__("capture", **kwargs)
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._source = None

    def configure_stage(self) -> None:
        self.pub = self.publisher(topics.AUDIO_IN)

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
                    self.pub.publish(AudioFrame(
                        header=self.header(chunk.stamp_ns, self.param("frame_id")), encoding=S16LE,
                        sample_rate=SAMPLE_RATE, channels=1, first_sample_index=chunk.first_sample_index,
                        turn_id=0, data=to_s16le(chunk.samples)))
                    self.health.count("frames_published")
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


def main(args: list[str] | None = None) -> None:
    run(CaptureNode, args)
