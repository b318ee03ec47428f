"""How failures are recorded, and which recorded failures still get another attempt."""

from __future__ import annotations

import threading
import traceback
from collections.abc import Sequence
from pathlib import Path

from spine.core.errors import ErrorCategory, SpineError, categorize
from spine.orchestration.history.types import StepRun
from spine.orchestration.models import StepFailure
from spine.orchestration.retry import RetryPolicy
from spine.orchestration.store import INTERRUPTED

#: How many times an attempt that died with its worker is run again, whatever the policy.
MAX_INTERRUPTIONS = 3

#: Longest traceback kept per attempt; a longer one keeps its head and its tail.
MAX_TRACEBACK_CHARS = 16 * 1024
_TRACEBACK_HEAD_CHARS = 4 * 1024

# The engine's own frames (runner, handlers, context), trimmed from recorded tracebacks:
# they are the same in every failure and hide the user's frames.
_ENGINE_DIR = str(Path(__file__).resolve().parent.parent) + "/"


class StepTimeout(SpineError):
    """A step attempt ran longer than its ``timeout_seconds``.

    Python cannot stop a thread: the attempt is abandoned, not killed. ``attempt`` is its
    thread, so that the next attempt can wait for it to end instead of overlapping it.
    """

    category = ErrorCategory.TIMEOUT

    def __init__(
        self, step_name: str, seconds: float, attempt: threading.Thread | None = None
    ) -> None:
        super().__init__(f"step {step_name!r} timed out after {seconds:g} s")
        self.attempt = attempt


class AttemptInterrupted(SpineError):
    """The worker was told to stop and the attempt did not end within the stop grace.

    Like :class:`StepTimeout`, the attempt's thread is abandoned, not killed; the attempt
    is recorded FAILED with the :data:`INTERRUPTED` prefix, so the worker that resumes the
    run runs it again whatever the step's retry policy (see :func:`retry_interruption`).
    """

    category = ErrorCategory.UNAVAILABLE

    def __init__(self, step_name: str, grace_seconds: float) -> None:
        super().__init__(
            f"step {step_name!r} was still running {grace_seconds:g} s after the worker "
            "was told to stop"
        )


def interrupted_failure(owner: str, error: AttemptInterrupted) -> StepFailure:
    """How an attempt abandoned by a stopping worker is recorded (as a dead worker's is)."""
    return StepFailure(
        error=f"{INTERRUPTED} worker {owner} stopped: {error}",
        category=ErrorCategory.UNAVAILABLE.value,
        retryable=True,
    )


def describe(error: BaseException) -> StepFailure:
    """The recorded form of an exception: message, category, retryable."""
    category = categorize(error)
    retryable = error.retryable if isinstance(error, SpineError) else category.retryable
    message = str(error) or type(error).__name__
    if not isinstance(error, SpineError):
        message = f"{type(error).__name__}: {message}"
    return StepFailure(
        error=message,
        category=category.value,
        retryable=retryable,
        traceback=trimmed_traceback(error),
    )


def trimmed_traceback(error: BaseException) -> str:
    """``error``'s traceback, its chain included, without the engine's frames, bounded.

    Frames in ``spine/orchestration/`` are dropped from every exception of the chain, so
    what is left is the user's code (and the spine services it called); a traceback
    longer than :data:`MAX_TRACEBACK_CHARS` keeps its head and its tail (where the
    exception that failed the attempt is) around a marker saying how much was cut.
    """
    details = traceback.TracebackException.from_exception(error)
    seen: set[int] = set()
    pending = [details]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        frames = [f for f in current.stack if not f.filename.startswith(_ENGINE_DIR)]
        current.stack = traceback.StackSummary.from_list(frames)
        pending.extend(e for e in (current.__cause__, current.__context__) if e is not None)
    return bounded("".join(details.format()), MAX_TRACEBACK_CHARS, _TRACEBACK_HEAD_CHARS)


def bounded(text: str, limit: int, head: int) -> str:
    """``text`` if it fits in ``limit`` characters, else its head and tail with a marker."""
    if len(text) <= limit:
        return text
    marker_room = 64
    tail = limit - head - marker_room
    cut = len(text) - head - tail
    return f"{text[:head]}\n... [{cut} characters truncated] ...\n{text[-tail:]}"


def recorded_failure(attempt: StepRun, default: str = "failed") -> StepFailure:
    """The failure of an attempt read back from history."""
    category = ErrorCategory(attempt.error_category or ErrorCategory.INTERNAL.value)
    return StepFailure(
        error=attempt.error or default,
        category=category.value,
        retryable=category.retryable,
        traceback=attempt.error_traceback,
    )


def recorded_retry(policy: RetryPolicy, attempt: StepRun) -> bool:
    """Whether a FAILED attempt read back from history gets another attempt.

    As decided when it was recorded (``will_retry`` in its metrics), within the policy's
    attempts; an attempt recorded without that decision falls back on its category.
    """
    will_retry = attempt.metrics.get("will_retry")
    if will_retry is not None:
        return bool(will_retry) and attempt.attempt < policy.max_attempts
    category = ErrorCategory(attempt.error_category or ErrorCategory.INTERNAL.value)
    return policy.should_retry_category(category, category.retryable, attempt.attempt)


def retry_interruption(attempts: Sequence[StepRun]) -> bool:
    """Whether the latest attempt died with its worker and gets another attempt anyway.

    A dead worker is not the step's failure: its attempt is run again even when the
    step's policy allows no retry, up to :data:`MAX_INTERRUPTIONS` times (a step that
    kills its worker every time must not loop for ever).
    """

    def interrupted(attempt: StepRun) -> bool:
        return (attempt.error or "").startswith(INTERRUPTED)

    if not attempts or not interrupted(attempts[-1]):
        return False
    return sum(1 for attempt in attempts if interrupted(attempt)) <= MAX_INTERRUPTIONS
