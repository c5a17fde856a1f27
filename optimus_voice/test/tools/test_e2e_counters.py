"""`bench e2e` reports every problem any node counts: each counter raised through Health.problem anywhere in the
package reaches its problem check, whatever its name."""

import re
from pathlib import Path

from optimus_voice.contract.health import Health
from optimus_voice.tools.e2e import _counters

SRC = Path(__file__).parents[2] / "src" / "optimus_voice"


def problem_counters() -> set[str]:
    names = set()
    for path in SRC.rglob("*.py"):
        names |= set(re.findall(r'\.problem\(\s*"([a-z_]+)"', path.read_text()))
    return names


def diagnostics(node: str, health: Health):
    from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

    values = [KeyValue(key=k, value=v) for k, v in health.snapshot().values.items()]
    return DiagnosticArray(status=[DiagnosticStatus(name=f"optimus_voice/{node}", values=values)])


def test_every_problem_counter_of_every_node_is_reported():
    names = problem_counters()
    # Those the problem check used to miss are among them.
    assert {"callback_errors", "synthesis_errors", "output_errors", "late_audio", "llm_errors", "source_errors",
            "configure_failures", "rejected_frames", "gaps"} <= names
    health = Health()
    for name in sorted(names):
        health.problem(name, "test")
    health.count("frames_received", 500)  # an ordinary counter is not a problem
    assert _counters([diagnostics("somenode", health)]) == {"somenode": {n: "1" for n in names}}
    assert _counters([diagnostics("quiet", Health())]) == {}
