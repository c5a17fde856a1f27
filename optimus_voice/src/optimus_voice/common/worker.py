"""One worker thread doing queued jobs in order: model work (decodes, synthesis, emotion) off the executor."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

Job = TypeVar("Job")


class Worker(Generic[Job]):
    """Runs `handle(job)` for each job put, on a thread of its own. An exception of one job goes to `on_error`
    and the worker goes on with the next."""

    def __init__(self, name: str, handle: Callable[[Job], None], on_error: Callable[[Exception], None]) -> None:
        self._jobs: queue.Queue[Job | None] = queue.Queue()
        self._handle = handle
        self._on_error = on_error
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def put(self, job: Job) -> None:
        self._jobs.put(job)

    def pending(self) -> int:
        """Jobs waiting (not counting the one being done)."""
        return self._jobs.qsize()

    def drop_oldest(self) -> bool:
        """Drop the job that has waited longest; False if none waits."""
        try:
            self._jobs.get_nowait()
        except queue.Empty:
            return False
        return True

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None:
            try:
                self._handle(job)
            except Exception as exc:  # noqa: BLE001 - one bad job must not stop the worker
                self._on_error(exc)

    def stop(self, timeout_s: float = 30.0) -> None:
        """Drop the jobs waiting, let the current one finish, end the thread. Waiting matters: exiting while a model
        (CTranslate2, onnxruntime) still runs in a thread crashes the interpreter at teardown."""
        with self._jobs.mutex:
            self._jobs.queue.clear()
        self._jobs.put(None)
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=timeout_s)
