"""Calling a step's code in a thread of its own, so that its caller can stop waiting.

The caller (a worker's thread, or ``spine run``'s main thread) waits for the attempt and
gives up at the step's ``timeout_seconds`` (:class:`StepTimeout`) or, once the worker is
told to stop, after the stop grace (:class:`AttemptInterrupted`). Python cannot stop a
thread: an attempt given up on is abandoned, and its thread (a daemon) ends with the
process if it has not ended before.

Each calling thread keeps one attempt thread and hands it attempt after attempt: starting
a thread per attempt cost 70 to 190 µs, about as much as the rest of a step, where a
hand-over costs about 15 µs. An attempt thread that was given up on is not used again;
the next attempt gets a new one. The attempt runs in a copy of the caller's context
(:mod:`contextvars`), as it would inline.
"""

from __future__ import annotations

import contextvars
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from spine.orchestration.execution.failures import AttemptInterrupted, StepTimeout

# How often a waiting caller looks whether it was told to stop. A finished attempt wakes
# it at once; this only bounds how late a stop is noticed.
_STOP_POLL_SECONDS = 0.1

_Job = Callable[[], None]


class _AttemptThread:
    """A daemon thread that runs the jobs its one calling thread hands it, in turn."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        # Named as its calling thread, so log records name the worker thread as they did
        # when steps ran in it.
        name = threading.current_thread().name
        self.thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while (job := self._jobs.get()) is not None:
            job()

    def submit(self, job: _Job) -> None:
        self._jobs.put(job)

    def retire(self) -> None:
        """End the thread once the job it runs (if any) returns."""
        self._jobs.put(None)

    def __del__(self) -> None:  # the calling thread ended: its attempt thread ends too
        self._jobs.put(None)


_local = threading.local()


def _attempt_thread() -> _AttemptThread:
    current: _AttemptThread | None = getattr(_local, "attempt_thread", None)
    if current is None:
        current = _local.attempt_thread = _AttemptThread()
    return current


def _abandon(current: _AttemptThread) -> None:
    """Stop handing ``current`` attempts: its thread ends after the one it runs."""
    if getattr(_local, "attempt_thread", None) is current:
        _local.attempt_thread = None
    current.retire()


def call_attempt(
    fn: Callable[[Any], Any],
    ctx: Any,
    name: str,
    *,
    timeout_seconds: float | None,
    stopping: threading.Event,
    grace_seconds: float,
) -> Any:
    """Return ``fn(ctx)``, run in this thread's attempt thread, or raise what it raised.

    Raises:
        StepTimeout: If it ran past ``timeout_seconds`` (its thread is on the error).
        AttemptInterrupted: If ``stopping`` was set and it ran ``grace_seconds`` more.
    """
    result: dict[str, Any] = {}
    done = threading.Event()
    context = contextvars.copy_context()

    def job() -> None:
        try:
            result["value"] = context.run(fn, ctx)
        except BaseException as error:  # handed to the waiting thread
            result["error"] = error
        finally:
            done.set()

    worker = _attempt_thread()
    started = time.monotonic()
    worker.submit(job)
    timeout_at = None if timeout_seconds is None else started + timeout_seconds
    stop_at: float | None = None
    try:
        while not done.is_set():
            now = time.monotonic()
            if stop_at is None and stopping.is_set():
                stop_at = now + grace_seconds
            if timeout_at is not None and now >= timeout_at:
                assert timeout_seconds is not None
                raise StepTimeout(name, timeout_seconds, attempt=worker.thread)
            if stop_at is not None and now >= stop_at:
                raise AttemptInterrupted(name, grace_seconds)
            limits = [t - now for t in (timeout_at, stop_at) if t is not None]
            done.wait(min([_STOP_POLL_SECONDS, *limits]) if stop_at is None else min(limits))
    except (StepTimeout, AttemptInterrupted):
        # Given up on: the attempt goes on in its thread, which must not be handed the
        # next one (and a retry waits for that thread to end).
        _abandon(worker)
        raise
    except BaseException:  # the caller itself was interrupted while it waited
        if not done.is_set():
            _abandon(worker)
        raise
    if "error" in result:
        raise result["error"]
    return result.get("value")
