"""The stack under a namespace (two stacks in one DDS domain, each hearing its own microphone), and a bag
replayed with sim time (`bag play --clock`, use_sim_time:=true) giving the latencies of the live graph."""

import statistics

from helpers import Up, diagnostics_of, up_status
from optimus_voice.audio_io import bags
from optimus_voice.contract import graph, topics
from optimus_voice.tools import bag_ros, turn_timing
from optimus_voice.tools.probe import TopicProbe

WATCH = (topics.VOICE_ACTIVITY, topics.TRANSCRIPT, topics.SPEECH_REQUEST, topics.AUDIO_IN, topics.DIAGNOSTICS)


def finals(probe) -> list[str]:
    return [m.text.lower() for m in probe.of(topics.TRANSCRIPT) if m.is_final]


def test_two_stacks_under_namespaces_do_not_cross(probe, domain_id, data_dir, tmp_path):
    probes = {ns: TopicProbe(WATCH, name=f"probe_{ns}", domain_id=domain_id, namespace=f"/{ns}")
              for ns in ("robot1", "robot2")}
    clips = {"robot1": "cv_what_did_he_look_like.wav", "robot2": "cv_concourse.wav"}
    stacks = {ns: Up("--mic-file", str(data_dir / clip), "mic_loop:=true", f"namespace:={ns}", "use_audio_out:=false",
                     log_dir=tmp_path / ns, domain_id=domain_id) for ns, clip in clips.items()}
    try:
        assert probes["robot1"].wait_for(lambda: any("look like" in t for t in finals(probes["robot1"])), 180)
        assert probes["robot2"].wait_for(lambda: any("concourse" in t for t in finals(probes["robot2"])), 120)
        assert probes["robot1"].wait_for(lambda: probes["robot1"].of(topics.SPEECH_REQUEST), 30)
        assert not any("concourse" in t for t in finals(probes["robot1"]))
        assert not any("look like" in t for t in finals(probes["robot2"]))
        # Nothing of either stack on the root namespace's topics; /diagnostics is shared, and each lifecycle
        # manager reports only its own nodes, all active.
        assert not probe.of(topics.TRANSCRIPT) and not probe.of(topics.AUDIO_IN)
        managers = {s.hardware_id for m in probe.of(topics.DIAGNOSTICS) for s in m.status
                    if s.name.startswith("optimus_voice/manager/")}
        assert managers == {"/robot1/lifecycle_manager", "/robot2/lifecycle_manager"}
    finally:
        codes = [stack.stop() for stack in stacks.values()]
        for p in probes.values():
            p.close()
    assert codes == [0, 0], [s.output[-2000:] for s in stacks.values()]


def run_on(domain_id, tmp_path, name, *args, play=None):
    """Run the stack (its microphone as `args` say) until two turns are transcribed; their per-turn latencies."""
    probe = TopicProbe(WATCH, name=f"probe_{name}", domain_id=domain_id)  # sees this run's statuses only
    up = Up(*args, log_dir=tmp_path / name, domain_id=domain_id)
    try:
        names = graph.managed_nodes(dict(a.split(":=") for a in args if ":=" in a))
        assert probe.wait_for(lambda: all(up_status(probe).get(n, {}).get("state") == "active" for n in names),
                              120), up_status(probe)
        if play is not None:
            play()
        assert probe.wait_for(lambda: len([m for m in probe.of(topics.TRANSCRIPT) if m.is_final]) >= 2, 60)
        messages = {t.name: probe.of(t) for t in WATCH}
        lost = int(diagnostics_of(probe, "asr").get("lost_samples", 0))
    finally:
        code = up.stop()
        probe.close()
    assert code == 0, up.output
    assert lost == 0, f"the recognizer lost {lost} samples of the {name} run"
    return turn_timing.turn_timings(messages)


def test_a_bag_replayed_with_sim_time_gives_the_live_latencies(domain_id, data_dir, tmp_path):
    bag = tmp_path / "speech"
    bags.from_wavs([data_dir / "cv_what_did_he_look_like.wav", data_dir / "cv_concourse.wav"], bag, gap_s=2.5,
                   lead_s=1.0)
    live = run_on(domain_id, tmp_path, "live", "mic_source:=bag", f"mic_file:={bag}", "use_audio_out:=false")
    replayed = run_on(domain_id, tmp_path, "sim", "mic_source:=none", "use_sim_time:=true",
                      "use_audio_out:=false",
                      play=lambda: bag_ros.play(bag, clock=True, domain_id=domain_id, wait_subscribers_s=5))
    # The bag's audio carries the stamps of when it was made: without sim time its turns would seem to end long
    # before their transcripts. With the bag's clock, the latencies are the live graph's.
    live_ms = [t["final_transcript"] for t in live if "final_transcript" in t]
    sim_ms = [t["final_transcript"] for t in replayed if "final_transcript" in t]
    assert len(live_ms) >= 2 and len(sim_ms) >= 2, (live, replayed)
    assert all(0 < ms < 2000 for ms in sim_ms), replayed
    assert abs(statistics.median(sim_ms) - statistics.median(live_ms)) < 300, (live_ms, sim_ms)
    for words in ("look like", "concourse"):  # the same turns were heard (a word or two may differ between runs)
        assert any(words in t["heard"].lower() for t in live) and any(words in t["heard"].lower() for t in replayed)
