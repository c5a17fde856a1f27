"""The whole graph on real sound devices (`up mic_source:=device`): the question goes in through a sound server the
test starts, the reply comes out of the speaker node into the server's sink, and the robot's voice comes back into
its microphone through the server (a loopback, with the server's own buffering), as it would through the air."""

import time

from helpers import Up, diagnostics_of, up_status
from optimus_voice.audio_io.sources import load_audio
from optimus_voice.contract import graph, topics
from optimus_voice.tools.sound_server import SoundServer


def test_a_turn_through_real_devices_with_the_robot_hearing_itself(probe, domain_id, data_dir, tmp_path, asr_parts):
    from optimus_voice_msgs.msg import PlaybackStatus, SpeechProgress, SpeechRequest

    _, recognizer = asr_parts
    server = SoundServer(echo=True)
    up = Up("mic_source:=device", log_dir=tmp_path / "logs", domain_id=domain_id, env=server.env)
    names = graph.managed_nodes({"mic_source": "device"})
    try:
        assert probe.wait_for(lambda: all(up_status(probe).get(n, {}).get("state") == "active" for n in names), 120), \
            up_status(probe)
        assert diagnostics_of(probe, "audio_out").get("device") is None, "the speaker node found no device"
        # The canceller has no echo path kept (a first start): it asks for the learning sound, and the speaker plays
        # it (turn 0) before anyone speaks.
        assert probe.wait_for(lambda: [m.data for m in probe.of(topics.ECHO_LEARNING)][:1] == [True], 30), \
            probe.of(topics.ECHO_LEARNING)
        assert probe.wait_for(lambda: any(p.turn_id == 0 and p.state == PlaybackStatus.DRAINED
                                          for p in probe.of(topics.PLAYBACK)), 15)
        time.sleep(1.0)  # its end, still in the server's buffers: a user talking over it spoils what it teaches
        recording = server.record()
        server.play(load_audio(data_dir / "cv_what_did_he_look_like.wav")).wait(15)

        def says():
            return [r for r in probe.of(topics.SPEECH_REQUEST) if r.action == SpeechRequest.ACTION_SAY]

        assert probe.wait_for(lambda: says(), 30), [m.text for m in probe.of(topics.TRANSCRIPT) if m.is_final]
        turn = says()[0].turn_id
        heard = [m.text.lower() for m in probe.of(topics.TRANSCRIPT) if m.is_final and m.turn_id == turn]
        assert any("look like" in t for t in heard), heard
        assert probe.wait_for(lambda: any(p.turn_id == turn and p.state in (SpeechProgress.DONE,
                                                                            SpeechProgress.INTERRUPTED)
                                          for p in probe.of(topics.SPEECH_PROGRESS)), 60)
        # Its own voice, heard through the server, neither stopped it nor was answered.
        assert not [p for p in probe.of(topics.SPEECH_PROGRESS) if p.state == SpeechProgress.INTERRUPTED], (
            why_stopped(probe))
        assert len(says()) == 1, [r.text for r in says()]
        played = recording.stop()
        reply = recognizer.transcribe(played, word_timestamps=False).text.lower()
        first_words = " ".join(says()[0].text.lower().replace(",", "").split()[:2])
        assert first_words in reply.replace(",", ""), (says()[0].text, reply)

        echo = {k: v for k, v in diagnostics_of(probe, "capture").items() if k.startswith("echo")}
        # The canceller found the server's delay, and learnt the path from the learning sound: this short first
        # reply lost 16-24 dB in 9 runs here; without the sound, 4.9 dB in the run looked at (2026-12-07).
        assert 30 < float(echo["echo_delay_ms"]) < 500, echo
        assert float(echo["echo_erle_db"]) > 10, echo
        # The speaker node tells the canceller what it plays before the microphone hears it. Its lead is the sound
        # server's output latency, and a loaded 2-core CI machine once delivered 40 ms of it late: a hiccup, where a
        # speaker that reports after playing would leave the whole reply (about 2 s) uncancelled.
        assert float(echo["echo_reference_late_s"]) <= 0.1, echo
    finally:
        up.stop()
        server.close()


def why_stopped(probe) -> str:
    """What the graph heard and decided around the robot's reply, in the order the probe got it: a failure message
    that says which barge-in rule stopped the robot and on what."""
    def summary(name: str, msg) -> str:
        if name == topics.VOICE_ACTIVITY.name:
            return f"turn {msg.turn_id} event {msg.event} double_talk {msg.double_talk:.2f}"
        if name == topics.TRANSCRIPT.name:
            return f"turn {msg.turn_id} {'final' if msg.is_final else 'partial'} {msg.text!r}"
        if name == topics.SPEECH_PROGRESS.name:
            return f"turn {msg.turn_id} state {msg.state} words {msg.words_played}/{msg.words_total}"
        return str(msg.data)

    shown = (topics.VOICE_ACTIVITY, topics.TRANSCRIPT, topics.SPEECH_PROGRESS, topics.ECHO_CANCELLED,
             topics.ECHO_LEARNING)
    events = sorted((t, topic.name, summary(topic.name, m)) for topic in shown for t, m in probe.timed(topic))
    t0 = events[0][0] if events else 0.0
    dialogue = {k: v for k, v in diagnostics_of(probe, "dialogue").items() if "barge" in k or "echo" in k}
    capture = {k: v for k, v in diagnostics_of(probe, "capture").items() if k.startswith("echo")}
    return "\n".join([*(f"{t - t0:6.2f} s {name}: {text}" for t, name, text in events),
                      f"dialogue: {dialogue}", f"capture: {capture}"])
