"""Retry policies: delays, which errors retry, and how the runner applies them to steps."""

from __future__ import annotations

import random
import threading
import time
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from spine import RetryPolicy, Step, Workflow
from spine.core.clock import FrozenClock
from spine.core.errors import ErrorCategory, InvalidInput, SpineError
from spine.orchestration.history import StepStatus, WorkflowStatus
from spine.orchestration.registry import WorkflowRegistry
from spine.orchestration.runner import WorkflowRunner
from spine.orchestration.store import RunStore
from spine.orchestration.worker import Worker
from tests.orchestration.invariants import (
    assert_history_consistent,
    assert_nothing_running,
    attempts,
)

# ---------------------------------------------------------------- the policy alone


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_attempts": 0},
        {"backoff_seconds": -1},
        {"max_backoff_seconds": -1},
        {"multiplier": 0.5},
        {"jitter": 1.5},
        {"jitter": -0.1},
    ],
)
def test_policy_refuses_impossible_settings(kwargs: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput):
        RetryPolicy(**kwargs)


def test_delay_doubles_until_the_cap_without_jitter() -> None:
    policy = RetryPolicy(max_attempts=9, backoff_seconds=1, max_backoff_seconds=10, jitter=0)

    assert [policy.delay(n) for n in range(1, 7)] == [1, 2, 4, 8, 10, 10]


def test_jitter_spreads_the_delay_around_its_base() -> None:
    policy = RetryPolicy(backoff_seconds=10, multiplier=1, jitter=0.2)
    rng = random.Random(7)

    delays = {policy.delay(1, rng) for _ in range(200)}

    assert all(8 <= d <= 12 for d in delays)
    assert min(delays) < 9 and max(delays) > 11
    assert len(delays) > 100


def test_delay_for_a_huge_attempt_number_is_the_cap() -> None:
    policy = RetryPolicy(max_attempts=5, backoff_seconds=1, max_backoff_seconds=60, jitter=0)

    assert policy.delay(5000) == 60


def test_retrying_builds_a_policy_limited_to_categories() -> None:
    policy = RetryPolicy.retrying(3, on=[ErrorCategory.TIMEOUT], backoff_seconds=0.5)

    assert policy.max_attempts == 3
    assert policy.retry_on == frozenset({ErrorCategory.TIMEOUT})
    assert policy.backoff_seconds == 0.5


@pytest.mark.parametrize(
    ("error", "retry_on", "retries"),
    [
        (ConnectionError("reset"), None, True),
        (TimeoutError("slow"), None, True),
        # Any exception retries unless marked not retryable (issue 11): a plain
        # ValueError, KeyError or RuntimeError too, though their categories are final.
        (ValueError("bad"), None, True),
        (KeyError("k"), None, True),
        (RuntimeError("bug"), None, True),
        (FileNotFoundError("gone"), None, True),
        (InvalidInput("week_ending is not a date"), None, False),
        (SpineError("bug"), None, False),
        (SpineError("says yes", category=ErrorCategory.VALIDATION, retryable=True), None, True),
        (SpineError("says no", category=ErrorCategory.NETWORK, retryable=False), None, False),
        (ConnectionError("reset"), {ErrorCategory.TIMEOUT}, False),
        (TimeoutError("slow"), {ErrorCategory.TIMEOUT}, True),
        (ValueError("bad"), {ErrorCategory.VALIDATION}, True),
        (ValueError("bad"), {ErrorCategory.NETWORK}, False),
        # retry_on limits even an error that asks to be retried ...
        (SpineError("yes", category=ErrorCategory.NETWORK, retryable=True), set(), False),
        # ... and an error that refuses to be retried is not, whatever retry_on says.
        (SpineError("no", category=ErrorCategory.NETWORK, retryable=False), {"NETWORK"}, False),
    ],
)
def test_which_errors_retry(error: Exception, retry_on: set[str] | None, retries: bool) -> None:
    categories = None if retry_on is None else frozenset(ErrorCategory(c) for c in retry_on)
    policy = RetryPolicy(max_attempts=3, retry_on=categories)

    assert policy.should_retry(error, 1) is retries
    assert policy.should_retry(error, 3) is False


@pytest.mark.parametrize(
    ("error", "no_retry_on", "retries"),
    [
        (ValueError("bad"), (ValueError,), False),
        (UnicodeDecodeError("utf-8", b"", 0, 1, "x"), (ValueError,), False),  # a subclass
        (KeyError("k"), (ValueError,), True),
        (ConnectionError("reset"), (ConnectionError, KeyError), False),
        (SpineError("yes", category=ErrorCategory.NETWORK), (SpineError,), False),
    ],
)
def test_no_retry_on_names_types_that_never_retry(
    error: Exception, no_retry_on: tuple[type[BaseException], ...], retries: bool
) -> None:
    policy = RetryPolicy(max_attempts=3, no_retry_on=no_retry_on)

    assert policy.should_retry(error, 1) is retries


def test_no_retry_on_takes_one_type_or_a_list_and_refuses_others() -> None:
    assert RetryPolicy(no_retry_on=KeyError).no_retry_on == (KeyError,)  # type: ignore[arg-type]
    listed = RetryPolicy(no_retry_on=[KeyError, ValueError])  # type: ignore[arg-type]
    assert listed.no_retry_on == (KeyError, ValueError)
    assert RetryPolicy.retrying(2, never_on=[KeyError]).no_retry_on == (KeyError,)
    with pytest.raises(InvalidInput, match="no_retry_on takes exception types"):
        RetryPolicy(no_retry_on=("KeyError",))  # type: ignore[arg-type]


policies = st.builds(
    RetryPolicy,
    max_attempts=st.integers(1, 20),
    backoff_seconds=st.floats(0, 1000, allow_nan=False),
    multiplier=st.floats(1, 100, allow_nan=False),
    max_backoff_seconds=st.floats(0, 10_000, allow_nan=False),
    jitter=st.floats(0, 1, allow_nan=False),
)


@given(policy=policies, attempt=st.integers(1, 100_000), seed=st.integers(0, 2**32))
def test_delay_is_never_negative_nor_above_the_cap(
    policy: RetryPolicy, attempt: int, seed: int
) -> None:
    delay = policy.delay(attempt, random.Random(seed))

    assert 0 <= delay <= policy.max_backoff_seconds


@given(
    backoff=st.floats(0.001, 100, allow_nan=False),
    multiplier=st.floats(1.1, 10, allow_nan=False),
    cap=st.floats(0.001, 10_000, allow_nan=False),
    attempt=st.integers(1, 2000),
)
def test_delay_grows_until_the_cap_without_jitter(
    backoff: float, multiplier: float, cap: float, attempt: int
) -> None:
    policy = RetryPolicy(
        backoff_seconds=backoff, multiplier=multiplier, max_backoff_seconds=cap, jitter=0
    )

    now, then = policy.delay(attempt), policy.delay(attempt + 1)

    assert then >= now
    if now < cap:
        assert then > now
    else:
        assert then == cap


errors = st.sampled_from(
    [
        ConnectionError("x"),
        TimeoutError("x"),
        ValueError("x"),
        RuntimeError("x"),
        SpineError("x", retryable=True),
        SpineError("x", category=ErrorCategory.TIMEOUT, retryable=False),
    ]
)
categories = st.none() | st.frozensets(st.sampled_from(list(ErrorCategory)))


@given(
    max_attempts=st.integers(1, 10),
    retry_on=categories,
    error=errors,
    attempt=st.integers(1, 20),
)
def test_should_retry_never_exceeds_max_attempts_and_respects_retry_on(
    max_attempts: int,
    retry_on: frozenset[ErrorCategory] | None,
    error: Exception,
    attempt: int,
) -> None:
    from spine.core.errors import categorize

    policy = RetryPolicy(max_attempts=max_attempts, retry_on=retry_on)

    retries = policy.should_retry(error, attempt)

    if attempt >= max_attempts:
        assert not retries
    if retries and retry_on is not None:
        assert categorize(error) in retry_on
    if isinstance(error, SpineError) and not error.retryable:
        assert not retries
    elif attempt < max_attempts and retry_on is None:
        assert retries  # any exception not marked final retries while attempts remain


# ------------------------------------------------------------ applied by the runner


class Flaky:
    """A step callable that raises ``error`` on its first ``failures`` calls."""

    def __init__(self, failures: int, error: Exception) -> None:
        self.failures = failures
        self.error = error
        self.calls: list[int] = []

    def __call__(self, ctx: Any) -> dict[str, Any]:
        self.calls.append(ctx.attempt)
        if len(self.calls) <= self.failures:
            raise self.error
        return {"attempt": ctx.attempt}


def no_jitter(max_attempts: int, backoff: float = 1.0, **kwargs: Any) -> RetryPolicy:
    return RetryPolicy(max_attempts=max_attempts, backoff_seconds=backoff, jitter=0, **kwargs)


def test_connection_error_is_retried_until_it_succeeds(
    runner: WorkflowRunner, workflows: WorkflowRegistry, store: RunStore, clock: FrozenClock
) -> None:
    flaky = Flaky(2, ConnectionError("reset by peer"))
    Workflow("wf", [Step.lambda_("fetch", flaky, retry=no_jitter(3, 0.5))], registry=workflows)
    start = clock.now()

    run = runner.run("wf")

    assert run.status is WorkflowStatus.COMPLETED
    assert flaky.calls == [1, 2, 3]
    rows = attempts(store, run.run_id)["fetch"]
    assert [(r.attempt, r.max_attempts, r.status) for r in rows] == [
        (1, 3, StepStatus.FAILED),
        (2, 3, StepStatus.FAILED),
        (3, 3, StepStatus.COMPLETED),
    ]
    assert rows[0].error == "ConnectionError: reset by peer"
    assert rows[0].error_category == "NETWORK"
    assert rows[2].output_data == {"attempt": 3}
    # Short back-offs (0.5 s, then 1 s) are slept through, on the injected clock.
    assert clock.now() - start == timedelta(seconds=1.5)
    assert (run.completed_steps, run.failed_steps) == (1, 0)
    failed_events = [e for e in store.get_events(run.run_id) if e.event_type == "step.failed"]
    assert [e.payload["will_retry"] for e in failed_events] == [True, True]
    assert [e.payload["retry_in_seconds"] for e in failed_events] == [0.5, 1.0]
    assert_history_consistent(store, run.run_id)


def test_value_error_is_retried_to_success(
    runner: WorkflowRunner, workflows: WorkflowRegistry, store: RunStore
) -> None:
    flaky = Flaky(2, ValueError("week_ending is not a date"))
    Workflow(
        "wf",
        [Step.lambda_("parse", flaky, retry=no_jitter(3)), Step.lambda_("next", lambda c: None)],
        registry=workflows,
    )

    run = runner.run("wf")

    assert run.status is WorkflowStatus.COMPLETED
    assert flaky.calls == [1, 2, 3]
    rows = attempts(store, run.run_id)["parse"]
    assert [(r.attempt, r.status) for r in rows] == [
        (1, StepStatus.FAILED),
        (2, StepStatus.FAILED),
        (3, StepStatus.COMPLETED),
    ]
    # The category recorded is still the one its type suggests.
    assert [r.error_category for r in rows] == ["VALIDATION", "VALIDATION", None]
    assert (run.completed_steps, run.failed_steps, run.total_steps) == (2, 0, 2)
    assert_history_consistent(store, run.run_id)


@pytest.mark.parametrize(
    ("error", "policy", "message"),
    [
        (
            InvalidInput("week_ending is not a date"),
            no_jitter(3),
            "week_ending is not a date",
        ),
        (
            ValueError("week_ending is not a date"),
            no_jitter(3, no_retry_on=(ValueError,)),
            "ValueError: week_ending is not a date",
        ),
        (
            ValueError("week_ending is not a date"),
            no_jitter(3, retry_on=frozenset({ErrorCategory.NETWORK})),
            "ValueError: week_ending is not a date",
        ),
    ],
    ids=["invalid-input", "no-retry-on", "retry-on-narrows"],
)
def test_errors_marked_final_are_not_retried(
    runner: WorkflowRunner,
    workflows: WorkflowRegistry,
    store: RunStore,
    error: Exception,
    policy: RetryPolicy,
    message: str,
) -> None:
    flaky = Flaky(5, error)
    Workflow(
        "wf",
        [Step.lambda_("parse", flaky, retry=policy), Step.lambda_("next", lambda c: None)],
        registry=workflows,
    )

    run = runner.run("wf")

    assert run.status is WorkflowStatus.FAILED
    assert flaky.calls == [1]
    assert run.error == f"step 'parse' failed: {message}"
    assert (run.error_category, run.error_retryable) == ("VALIDATION", False)
    assert (run.completed_steps, run.failed_steps, run.total_steps) == (0, 1, 2)
    assert "next" not in attempts(store, run.run_id)
    assert_history_consistent(store, run.run_id)


def test_exhausted_retries_fail_the_run_with_the_last_error(
    runner: WorkflowRunner, workflows: WorkflowRegistry, store: RunStore, db: Any
) -> None:
    flaky = Flaky(9, ConnectionError("down"))
    Workflow("wf", [Step.lambda_("fetch", flaky, retry=no_jitter(2, 0))], registry=workflows)

    run = runner.run("wf")

    assert run.status is WorkflowStatus.FAILED
    assert flaky.calls == [1, 2]
    rows = attempts(store, run.run_id)["fetch"]
    assert [r.status for r in rows] == [StepStatus.FAILED, StepStatus.FAILED]
    assert [r.metrics["will_retry"] for r in rows] == [True, False]
    assert (run.error_category, run.error_retryable, run.failed_steps) == ("NETWORK", True, 1)
    assert_nothing_running(db)
    assert_history_consistent(store, run.run_id)


def test_spine_error_decides_itself_and_retry_on_limits_categories(
    runner: WorkflowRunner, workflows: WorkflowRegistry
) -> None:
    asks = Flaky(1, SpineError("quota", category=ErrorCategory.VALIDATION, retryable=True))
    refuses = Flaky(1, SpineError("gone", category=ErrorCategory.NETWORK, retryable=False))
    network = Flaky(1, ConnectionError("reset"))
    timeout = Flaky(1, TimeoutError("slow"))
    only_timeouts = no_jitter(3, 0, retry_on=frozenset({ErrorCategory.TIMEOUT}))
    Workflow("asks", [Step.lambda_("s", asks, retry=no_jitter(3, 0))], registry=workflows)
    Workflow("refuses", [Step.lambda_("s", refuses, retry=no_jitter(3, 0))], registry=workflows)
    Workflow("net", [Step.lambda_("s", network, retry=only_timeouts)], registry=workflows)
    Workflow("slow", [Step.lambda_("s", timeout, retry=only_timeouts)], registry=workflows)

    status = {name: runner.run(name) for name in ("asks", "refuses", "net", "slow")}

    assert (asks.calls, refuses.calls, network.calls, timeout.calls) == ([1, 2], [1], [1], [1, 2])
    assert [status[n].status for n in ("asks", "refuses", "net", "slow")] == [
        WorkflowStatus.COMPLETED,
        WorkflowStatus.FAILED,
        WorkflowStatus.FAILED,
        WorkflowStatus.COMPLETED,
    ]
    assert (status["refuses"].error_category, status["refuses"].error_retryable) == (
        "NETWORK",
        False,
    )


def test_long_backoff_parks_the_run_until_due(
    runner: WorkflowRunner, workflows: WorkflowRegistry, store: RunStore, clock: FrozenClock
) -> None:
    flaky = Flaky(1, ConnectionError("reset"))
    Workflow("wf", [Step.lambda_("fetch", flaky, retry=no_jitter(2, 60))], registry=workflows)
    run = runner.submit("wf")
    worker = Worker(runner, concurrency=1)

    worker.run(once=True)

    parked = store.run_row(run.run_id)
    assert parked.status is WorkflowStatus.RUNNING
    assert store.wake_at_of(run.run_id) == clock.now() + timedelta(seconds=60)
    assert flaky.calls == [1]
    clock.advance(59)
    worker.run(once=True)
    assert flaky.calls == [1]
    clock.advance(1)
    worker.run(once=True)
    assert flaky.calls == [1, 2]
    assert store.run_row(run.run_id).status is WorkflowStatus.COMPLETED
    assert_history_consistent(store, run.run_id)


def release_when_failed(store: RunStore, release: threading.Event) -> threading.Thread:
    """Set ``release`` once some attempt is recorded FAILED (the timeout), from a thread."""

    def watch() -> None:
        while not release.is_set():
            with store.db.read() as conn:
                failed = conn.execute(
                    sa.text("SELECT count(*) FROM core_workflow_steps WHERE status = 'FAILED'")
                ).scalar_one()
            if failed:
                release.set()
            else:
                release.wait(0.02)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    return watcher


def test_timed_out_attempt_is_a_timeout_and_is_retried(
    runner: WorkflowRunner, workflows: WorkflowRegistry, store: RunStore
) -> None:
    release = threading.Event()

    def slow_first(ctx: Any) -> dict[str, Any]:
        if ctx.attempt == 1:
            release.wait(10)
        return {"attempt": ctx.attempt}

    step = Step.lambda_("slow", slow_first, retry=no_jitter(2, 0), timeout_seconds=0.2)
    Workflow("retried", [step], registry=workflows)
    once = Step.lambda_("slow", lambda ctx: release.wait(10) and None, timeout_seconds=0.1)
    Workflow("given_up", [once], registry=workflows)
    # The retry waits for the abandoned first attempt to end: end it once it timed out.
    release_when_failed(store, release)
    try:
        run = runner.run("retried")
        release.clear()
        given_up = runner.run("given_up")
    finally:
        release.set()

    assert run.status is WorkflowStatus.COMPLETED
    first, second = attempts(store, run.run_id)["slow"]
    assert first.status is StepStatus.FAILED
    assert first.error_category == "TIMEOUT"
    assert first.error == "step 'slow' timed out after 0.2 s"
    assert second.output_data == {"attempt": 2}
    assert given_up.status is WorkflowStatus.FAILED
    assert (given_up.error_category, given_up.error_retryable) == ("TIMEOUT", True)
    assert given_up.error == "step 'slow' failed: step 'slow' timed out after 0.1 s"


def test_a_retry_never_overlaps_an_attempt_that_timed_out_and_still_runs(
    runner: WorkflowRunner, workflows: WorkflowRegistry, store: RunStore
) -> None:
    release = threading.Event()
    spans: dict[int, list[float]] = {}

    def slow_first(ctx: Any) -> dict[str, Any]:
        spans[ctx.attempt] = [time.monotonic()]
        if ctx.attempt == 1:
            release.wait(10)
        spans[ctx.attempt].append(time.monotonic())
        return {"attempt": ctx.attempt}

    step = Step.lambda_("slow", slow_first, retry=no_jitter(2, 0), timeout_seconds=0.1)
    Workflow("overlap", [step], registry=workflows)
    release_when_failed(store, release)
    try:
        run = runner.run("overlap")
    finally:
        release.set()

    assert run.status is WorkflowStatus.COMPLETED
    first_end, second_start = spans[1][1], spans[2][0]
    assert second_start >= first_end, "the retry started while the timed-out attempt ran"
    first, _ = attempts(store, run.run_id)["slow"]
    assert first.error_category == "TIMEOUT"


def test_cancelling_a_run_whose_timed_out_attempt_still_runs_does_not_retry_it(
    runner: WorkflowRunner, workflows: WorkflowRegistry, store: RunStore
) -> None:
    release = threading.Event()
    calls: list[int] = []

    def stuck(ctx: Any) -> None:
        calls.append(ctx.attempt)
        if ctx.attempt == 1:
            store.request_cancel(ctx.run_id)
            release.wait(10)

    step = Step.lambda_("stuck", stuck, retry=no_jitter(3, 0), timeout_seconds=0.1)
    Workflow("stuck", [step], registry=workflows)
    try:
        run = runner.run("stuck")
    finally:
        release.set()

    assert run.status is WorkflowStatus.CANCELLED
    assert calls == [1]


def test_a_worker_stopping_while_a_timed_out_map_item_still_runs_parks_the_run(
    make_runner: Any, workflows: WorkflowRegistry, store: RunStore, clock: FrozenClock
) -> None:
    runner = make_runner()
    release = threading.Event()
    calls: list[tuple[int, int]] = []

    def stuck(ctx: Any) -> dict[str, Any]:
        calls.append((ctx.item_index, ctx.attempt))
        if ctx.attempt == 1:
            runner.stopping.set()
            release.wait(10)
        return {"attempt": ctx.attempt}

    item = Step.lambda_("item", stuck, retry=no_jitter(2, 0), timeout_seconds=0.1)
    Workflow("fan", [Step.map("fan", lambda ctx: [0], item)], registry=workflows)
    run = runner.submit("fan")
    claim = runner.claim(run_id=run.run_id)
    assert claim is not None
    try:
        assert runner.execute(claim) is None
    finally:
        release.set()

    parked = store.run_row(run.run_id)
    assert parked.status is WorkflowStatus.RUNNING
    assert store.wake_at_of(run.run_id) == clock.now()
    assert store.lease_owner(run.run_id) is None
    rows = attempts(store, run.run_id)
    assert rows["fan"][0].status is StepStatus.RUNNING
    assert [a.status for a in rows["fan[0]"]] == [StepStatus.FAILED]
    assert calls == [(0, 1)]

    finished = make_runner().drive(run.run_id)
    assert finished.status is WorkflowStatus.COMPLETED
    assert calls == [(0, 1), (0, 2)]
    assert_history_consistent(store, run.run_id)


def test_a_worker_stopping_while_a_timed_out_attempt_still_runs_parks_the_run_due_now(
    make_runner: Any, workflows: WorkflowRegistry, store: RunStore, clock: FrozenClock
) -> None:
    runner = make_runner()
    release = threading.Event()

    def stuck(ctx: Any) -> dict[str, Any]:
        if ctx.attempt == 1:
            runner.stopping.set()
            release.wait(10)
        return {"attempt": ctx.attempt}

    step = Step.lambda_("stuck", stuck, retry=no_jitter(2, 0), timeout_seconds=0.1)
    Workflow("stuck", [step], registry=workflows)
    run = runner.submit("stuck")
    claim = runner.claim(run_id=run.run_id)
    assert claim is not None
    try:
        assert runner.execute(claim) is None
    finally:
        release.set()

    assert store.run_row(run.run_id).status is WorkflowStatus.RUNNING
    assert store.wake_at_of(run.run_id) == clock.now()
    finished = make_runner().drive(run.run_id)
    assert finished.status is WorkflowStatus.COMPLETED
    assert_history_consistent(store, run.run_id)
