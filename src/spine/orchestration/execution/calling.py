"""Calling a step's code in a thread of its own, so that its caller can stop waiting.

The caller (a worker's thread, or ``spine run``'s main thread) waits for the attempt and
gives up at the step's ``timeout_seconds`` (:class:`StepTimeout`) or, once the worker is
told to stop, after the stop grace (:class:`AttemptInterrupted`). Python cannot stop a
thread: an attempt given up on is abandoned, and its thread (a daemon) ends with the
process if it has not ended before.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from spine.orchestration.execution.failures import AttemptInterrupted, StepTimeout

# How often a waiting caller looks whether it was told to stop. A finished attempt wakes
# it at once; this only bounds how late a stop is noticed.
_STOP_POLL_SECONDS = 0.1


def call_attempt(
    fn: Callable[[Any], Any],
    ctx: Any,
    name: str,
    *,
    timeout_seconds: float | None,
    stopping: threading.Event,
    grace_seconds: float,
) -> Any:
    """Return ``fn(ctx)``, run in a daemon thread, or raise what it raised.

    Raises:
        StepTimeout: If it ran past ``timeout_seconds`` (its thread is on the error).
        AttemptInterrupted: If ``stopping`` was set and it ran ``grace_seconds`` more.
    """
    result: dict[str, Any] = {}
    done = threading.Event()

    def target() -> None:
        try:
            result["value"] = fn(ctx)
        except BaseException as error:  # handed to the waiting thread
            result["error"] = error
        finally:
            done.set()

    thread = threading.Thread(target=target, name=f"step-{name}", daemon=True)
    started = time.monotonic()
    thread.start()
    timeout_at = None if timeout_seconds is None else started + timeout_seconds
    stop_at: float | None = None
    while not done.is_set():
        now = time.monotonic()
        if stop_at is None and stopping.is_set():
            stop_at = now + grace_seconds
        if timeout_at is not None and now >= timeout_at:
            assert timeout_seconds is not None
            raise StepTimeout(name, timeout_seconds, attempt=thread)
        if stop_at is not None and now >= stop_at:
            raise AttemptInterrupted(name, grace_seconds)
        limits = [t - now for t in (timeout_at, stop_at) if t is not None]
        done.wait(min([_STOP_POLL_SECONDS, *limits]) if stop_at is None else min(limits))
    if "error" in result:
        raise result["error"]
    return result.get("value")
