"""Speaker node: /audio/out -> a PortAudio device and/or a WAV file, reporting /audio/out/playback and publishing
what it played, stamped with when, on /audio/out/played (the microphone's echo reference)."""

from __future__ import annotations

import numpy as np

from optimus_voice.audio_io.player import Player, PlayStatus
from optimus_voice.audio_io.sinks import DeviceSink, SinkError, WavSink
from optimus_voice.contract import topics
from optimus_voice.contract.audio import S16LE, to_s16le
from optimus_voice.contract.stamps import NS_PER_S
from optimus_voice.nodes.base import VoiceNode, run
from optimus_voice.nodes.params import CONFIGURE, READ_ONLY, Param
from optimus_voice_msgs.msg import AudioFrame, PlaybackStatus

RATES = (8000, 16000, 22050, 24000, 32000, 44100, 48000)


class AudioOutNode(VoiceNode):
    PARAMS = (
        Param("output", "auto", "'device', 'wav', or 'auto' (the device if one opens, else only the WAV/clock).",
              choices=("auto", "device", "wav"), when=CONFIGURE),
        Param("device", "", "Output device by name substring or index; empty: the system default.", when=CONFIGURE),
        Param("wav_path", "", "Also write everything played to this WAV file (empty: no file).", when=READ_ONLY),
        Param("sample_rate", 22050, "Output sample rate; frames at other rates are resampled.", choices=RATES,
              when=CONFIGURE),
        Param("status_period_ms", 100.0, "Interval of /audio/out/playback reports while playing.", 10.0, 5000.0,
              when=CONFIGURE),
    )

    def __init__(self, **kwargs) -> None:
        super().__init__("audio_out", **kwargs)
        self.player: Player | None = None

    def configure_stage(self) -> None:
        rate = self.param("sample_rate")
        sinks: list = []
        if self.param("output") in ("device", "auto"):
            try:
                sinks.append(DeviceSink(self.param("device"), rate, clock=self.now_ns))
            except SinkError as exc:
                if self.param("output") == "device":
                    raise
                self.get_logger().warn(f"{exc}; playing by the clock only")
                self.health.set_value("device", f"none ({exc})")
        if self.param("wav_path"):
            sinks.append(WavSink(self.param("wav_path"), rate))
        self.status_pub = self.publisher(topics.PLAYBACK)
        self.played_pub = self.publisher(topics.AUDIO_PLAYED)
        self._played_index = 0
        self.subscribe(topics.AUDIO_OUT, self.on_audio)
        self.subscribe(topics.SPEECH_REQUEST, self.on_request)
        self._rate = rate
        self.player = Player(sinks, rate, self._status, self.param("status_period_ms") / 1000, self.health,
                             on_played=self._played, clock=self.now_ns)

    def cleanup_stage(self) -> None:
        if self.player is not None:
            self.player.close()
        self.player = None

    def on_audio(self, msg) -> None:
        if not self.turn_ok(msg.turn_id):
            return
        if msg.sample_rate not in RATES:
            self.health.problem("rejected_frames", f"unsupported sample rate {msg.sample_rate}")
            return
        samples = self.decode_frame(msg, "rejected_frames")
        if samples is None:
            return
        if msg.sample_rate != self._rate:
            import soxr

            samples = soxr.resample(samples, msg.sample_rate, self._rate).astype(np.float32)
        if not self.player.add(msg.turn_id, samples):
            self.health.count("stale_frames_dropped")

    def on_request(self, msg) -> None:
        if msg.action == msg.ACTION_STOP:
            self.player.flush()

    def _played(self, turn_id: int, samples: np.ndarray, stamp_ns: int) -> None:
        """What the speaker plays, as the echo canceller's reference (frames of at most a second)."""
        step = self._rate
        for start in range(0, len(samples), step):
            self.played_pub.publish(AudioFrame(
                header=self.header(stamp_ns + start * NS_PER_S // self._rate, "speaker"), encoding=S16LE,
                sample_rate=self._rate, channels=1, first_sample_index=self._played_index, turn_id=turn_id,
                data=to_s16le(samples[start:start + step])))
            self._played_index += len(samples[start:start + step])

    def _status(self, status: PlayStatus) -> None:
        self.status_pub.publish(PlaybackStatus(
            header=self.header(), turn_id=status.turn_id, state=getattr(PlaybackStatus, status.state),
            samples_played=status.samples_played, samples_queued=status.samples_queued,
            sample_rate=self._rate))


def main(args: list[str] | None = None) -> None:
    run(AudioOutNode, args)
