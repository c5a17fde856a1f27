"""The bring-up plan without DDS: configure all, activate consumers first and the microphone only after the
recognizer, bring a restarted node back, ignore stale heartbeats, survive nodes that fail or never answer."""

from optimus_voice.contract.bringup import Bringup
from optimus_voice.contract.graph import ACTIVATION_ORDER


def fresh(**kw) -> Bringup:
    plan = Bringup(list(ACTIVATION_ORDER), "capture", "asr", heartbeat_s=3.0, transition_s=30.0, retry_s=5.0, **kw)
    for name in ACTIVATION_ORDER:
        plan.report(name, "unconfigured", f"{name}-1", 0, 0.0)
    return plan


def run(plan: Bringup, now: float, fail: set[str] = frozenset()) -> list[tuple[str, str]]:
    """Ask what is next, answer every request at once (refusing those of `fail`), and return what was asked."""
    asked = plan.next(now)
    for name, transition in asked:
        plan.asked(name, transition, now)
        plan.answered(name, transition, name not in fail, now, "no device" if name in fail else "")
    return asked


def test_consumers_come_up_first_and_the_microphone_last():
    plan = fresh()
    assert run(plan, 0.1) == [(n, "configure") for n in ACTIVATION_ORDER]  # all load their models at once
    activated = []
    for step in range(10):
        activated += [n for n, t in run(plan, 0.2 + step * 0.1) if t == "activate"]
    assert activated == list(ACTIVATION_ORDER) and plan.all_up()


def test_the_microphone_waits_for_the_recognizer_and_a_failed_consumer_holds_nobody_up():
    plan = fresh()
    run(plan, 0.1, fail={"audio_out", "asr"})  # no sound card; the recognizer's model is missing
    for step in range(10):
        run(plan, 0.2 + step * 0.1, fail={"asr"})
    states = {n: m.state for n, m in plan.nodes.items()}
    assert states["tts"] == states["emotion"] == "active"  # not held up by the failed speaker (retried later)
    assert states["asr"] == "unconfigured" and states["capture"] == "inactive"  # no audio nobody transcribes
    assert plan.nodes["asr"].error == "no device" and plan.nodes["asr"].retry_at > 1.0
    assert plan.next(1.5) == [] or all(n != "asr" for n, _ in plan.next(1.5))  # not retried before retry_at
    # The recognizer's model appears: it is retried, activated, and then the microphone.
    later = [t for step in range(10) for t in run(plan, 20.0 + step * 0.1)]
    assert later.index(("asr", "activate")) < later.index(("capture", "activate"))


def test_a_restarted_node_is_brought_back_and_stale_heartbeats_are_ignored():
    plan = fresh()
    for step in range(12):
        run(plan, step * 0.1)
    assert plan.all_up()
    # A heartbeat sent before the last transition was answered says "inactive": ignored.
    plan.report("asr", "inactive", "asr-1", 1, 2.0)
    assert plan.nodes["asr"].state == "active"
    # SIGKILL: the heartbeat stops, the node is lost; its new process reports unconfigured and is brought back.
    for name in ACTIVATION_ORDER:
        if name != "asr":
            plan.report(name, "active", f"{name}-1", 2, 5.5)
    plan.expire(5.5)
    assert plan.nodes["asr"].state == "lost"
    plan.report("asr", "unconfigured", "asr-2", 0, 7.0)
    assert run(plan, 7.1) == [("asr", "configure")]
    assert run(plan, 7.2) == [("asr", "activate")]
    assert plan.all_up() and "restarted" in plan.nodes["asr"].history[-1]


def test_a_request_to_a_dead_process_times_out_and_the_new_process_is_asked_again():
    plan = fresh()
    plan.asked("face", "configure", 0.1)  # the process dies before it answers
    assert plan.expire(10.0) == [] and plan.expire(31.0) == ["face"]
    assert plan.nodes["face"].failures == 1 and "not answered" in plan.nodes["face"].error
    plan.report("face", "unconfigured", "face-2", 0, 32.0)  # its restarted process
    assert ("face", "configure") in plan.next(32.0)


def test_pause_resume_and_restart():
    plan = fresh()
    for step in range(12):
        run(plan, step * 0.1)
    assert plan.pause() and run(plan, 2.0) == [("capture", "deactivate")]
    assert plan.resume() and run(plan, 2.1) == [("capture", "activate")]
    plan.restart()
    asked = [t for step in range(30) for t in run(plan, 3.0 + step * 0.1)]
    downs = [n for n, t in asked if t == "deactivate"]
    assert downs == list(reversed(ACTIVATION_ORDER))  # the microphone first
    assert [n for n, t in asked if t == "activate"] == list(ACTIVATION_ORDER) and plan.all_up()


def test_a_node_that_never_reports_stops_holding_the_others_up():
    plan = Bringup(list(ACTIVATION_ORDER), "capture", "asr", transition_s=30.0)
    for name in ACTIVATION_ORDER:
        if name != "face":  # face's process never starts
            plan.report(name, "unconfigured", f"{name}-1", 0, 0.0)
    plan.expire(0.0)
    for step in range(10):
        run(plan, step * 0.1)
    assert plan.nodes["tts"].state == "inactive"  # waiting for face
    for name, n in plan.nodes.items():  # the others keep reporting
        if name != "face":
            plan.report(name, n.state, n.instance, n.seq, 31.0)
    plan.expire(31.0)
    for step in range(10):
        run(plan, 31.0 + step * 0.1)
    assert all(plan.nodes[n].state == "active" for n in ACTIVATION_ORDER if n != "face")


def test_a_heartbeat_that_comes_before_the_answer_does_not_make_later_ones_look_stale():
    plan = fresh()
    plan.asked("face", "configure", 0.1)
    plan.report("face", "inactive", "face-1", 1, 0.5)     # the heartbeat after the transition, then the answer
    plan.answered("face", "configure", True, 0.6)
    plan.report("face", "inactive", "face-1", 1, 1.5)
    plan.expire(4.0)
    assert plan.nodes["face"].state == "inactive" and plan.nodes["face"].seq == 1


def test_a_node_an_operator_deactivates_is_left_inactive_until_they_activate_it():
    """`ros2 lifecycle set /face deactivate` (say, while someone works on the face actuator): the manager used to
    activate it again a second later. A crash still brings a node back, to where the operator left it."""
    plan = fresh()
    for step in range(12):
        run(plan, step * 0.1)
    seq = plan.nodes["face"].seq
    plan.report("face", "inactive", "face-1", seq + 1, 2.0)  # the heartbeat after the operator's transition
    assert run(plan, 2.1) == [] and plan.nodes["face"].want == "inactive" and plan.all_up()
    assert "from outside" in plan.nodes["face"].history[-1]
    plan.report("face", "unconfigured", "face-2", 0, 3.0)  # it crashed meanwhile: configured again, not activated
    assert run(plan, 3.1) == [("face", "configure")] and run(plan, 3.2) == []
    plan.report("face", "active", "face-2", 2, 4.0)  # `ros2 lifecycle set /face activate`: active it stays
    assert plan.nodes["face"].want == "active" and run(plan, 4.1) == []
    # The operator's pause of the microphone is the manager's own pause: resume_listening brings it back.
    seq = plan.nodes["capture"].seq
    plan.report("capture", "inactive", "capture-1", seq + 1, 5.0)
    assert run(plan, 5.1) == []
    assert plan.resume() and run(plan, 5.2) == [("capture", "activate")]


def test_a_transition_answered_too_late_is_still_the_managers_own():
    """A configure that outlasts its deadline (a slow robot loading its models) and then completes is the manager's
    request done late, not an operator's: the node is still activated."""
    plan = fresh()
    plan.asked("asr", "configure", 0.1)
    assert plan.expire(31.0) == ["asr"]
    plan.report("asr", "inactive", "asr-1", 1, 40.0)  # it did configure, in the end
    assert plan.nodes["asr"].want == "active"
