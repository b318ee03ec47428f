"""What a failed attempt records: its traceback trimmed of the engine's frames, bounded."""

from __future__ import annotations

from spine.orchestration.execution.failures import MAX_TRACEBACK_CHARS, trimmed_traceback
from spine.orchestration.logs import MAX_LOG_CHARS, CapturedLog


def _chained(n: int) -> None:
    """Raise a chain of ``n`` exceptions, each caused by the one before."""
    try:
        if n == 0:
            raise LookupError("the first " + "x" * 200)
        _chained(n - 1)
    except Exception as error:
        raise RuntimeError(f"wrapped {n} times") from error


def test_a_long_traceback_keeps_its_head_and_its_end_around_a_marker() -> None:
    try:
        _chained(300)
    except RuntimeError as error:
        text = trimmed_traceback(error)

    assert len(text) <= MAX_TRACEBACK_CHARS
    assert text.startswith("Traceback (most recent call last):")
    assert "LookupError: the first" in text[:2000]  # the chain's root cause, first
    assert "characters truncated] ..." in text
    assert text.rstrip().endswith("RuntimeError: wrapped 300 times")


def test_a_log_keeps_its_first_and_last_lines_and_counts_the_rest() -> None:
    log = CapturedLog()
    for i in range(10_000):
        log.add("2026-01-01T00:00:00.000+00:00", "INFO", f"line {i}")

    lines = log.lines()

    messages = [m for _, _, m in lines]
    assert messages[0] == "line 0" and messages[-1] == "line 9999"
    [marker] = [m for _, level, m in lines if level == "-"]
    assert marker.startswith(f"[spine] {log.dropped} lines dropped")
    assert len(lines) == 10_000 - log.dropped + 1
    assert sum(len(m) + 48 for m in messages[:-1]) <= MAX_LOG_CHARS + 200


def test_a_long_message_is_cut_and_marked() -> None:
    log = CapturedLog()
    log.add("t", "INFO", "y" * 10_000)

    [(_, _, message)] = log.lines()

    assert message.startswith("y" * 4096) and message.endswith("[5904 characters truncated]")
