"""Who is speaking, through the real ASR node: voice ids on the turn's messages and REP-155's per-voice topics."""

import numpy as np
from helpers import audio_frame, diagnostics_of, wait_matched
from optimus_voice.audio_io.sources import load_audio
from optimus_voice.contract import topics
from optimus_voice.contract.audio import SAMPLE_RATE, to_s16le
from optimus_voice.contract.stamps import now_ns, to_time


def test_asr_node_names_the_voice_of_every_turn(ros_graph, domain_id, data_dir):
    from optimus_voice.nodes.asr_node import AsrNode
    from optimus_voice.tools.probe import TopicProbe

    per_voice = tuple(topics.of_voice(t, v) for t in (topics.VOICE_SPEECH, topics.VOICE_IS_SPEAKING)
                      for v in ("voice_1", "voice_2"))
    probe = TopicProbe((topics.AUDIO_IN, topics.TRANSCRIPT, topics.VOICE_ACTIVITY, topics.VOICES_TRACKED,
                        topics.DIAGNOSTICS, *per_voice), domain_id=domain_id)
    try:
        asr = ros_graph.add(AsrNode, partial_interval_ms=300.0)
        pub = probe.publisher(topics.AUDIO_IN)
        assert wait_matched(probe, topics.AUDIO_IN, asr)
        jfk, other = load_audio(data_dir / "jfk.wav"), load_audio(data_dir / "librivox_ill_disposed.wav")
        silence = np.zeros(SAMPLE_RATE, np.float32)
        # Kennedy, then another reader, then Kennedy again.
        audio = np.concatenate([silence[:8000], jfk[:int(5.5 * SAMPLE_RATE)], silence, other, silence,
                                jfk[6 * SAMPLE_RATE:], silence])
        frame, start = 320, now_ns()
        for i in range(0, len(audio), frame):
            msg = audio_frame(to_s16le(audio[i:i + frame]), i)
            msg.header.stamp = to_time(start + i * 1_000_000_000 // SAMPLE_RATE)
            pub.publish(msg)
            if i % (frame * 10) == 0:
                probe.wait_for(lambda: False, 0.15)  # about real time: the microphone's pace

        def finals():
            return [m for m in probe.of(topics.TRANSCRIPT) if m.is_final and m.text.strip()]

        assert probe.wait_for(lambda: any("country" in m.text.lower() for m in finals()[1:]), 40), \
            [m.text for m in finals()]
        ids = [(m.voice_id, m.text) for m in finals()]
        other_turns = [v for v, text in ids if "disposed" in text.lower() or "young man" in text.lower()]
        kennedy = [v for v, text in ids if not ("disposed" in text.lower() or "young man" in text.lower())]
        assert other_turns and set(other_turns) == {"voice_2"}, ids
        assert set(kennedy) == {"voice_1"}, ids
        # The end of each turn carries its voice too, and the session's voices are listed.
        ends = [a for a in probe.of(topics.VOICE_ACTIVITY) if a.event == a.SPEECH_END and a.voice_id]
        assert {a.voice_id for a in ends} == {"voice_1", "voice_2"}
        assert list(probe.of(topics.VOICES_TRACKED)[-1].ids) == ["voice_1", "voice_2"]
        # Per voice: what it said, and whether it is speaking (false once its turn is over).
        for voice in ("voice_1", "voice_2"):
            said = probe.of(topics.of_voice(topics.VOICE_SPEECH, voice))
            assert said and {m.voice_id for m in said} == {voice}
            assert probe.of(topics.of_voice(topics.VOICE_IS_SPEAKING, voice))[-1].data is False
        diagnostics = diagnostics_of(probe, "asr")
        assert float(diagnostics["voice_id_p50_ms"]) > 0 and diagnostics["voices_enrolled"] == "2"
    finally:
        probe.close()
