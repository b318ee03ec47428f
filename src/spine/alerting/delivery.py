"""The delivery worker: claims due deliveries, sends them outside any transaction, records.

Several workers (threads of one process, or processes on several machines) share the
work through the database: a claim is committed before the send, so a delivery attempt
is sent by one worker only (see :mod:`spine.alerting.store.deliveries`).

While the database is unavailable or locked the worker backs off and tries again
(:class:`~spine.core.storage.outage.DatabaseWait`, one per worker, shared by its
threads), logging the outage once when it starts and once when it ends. The outcome of a
send made just before an outage is kept and recorded once the database is back.
"""

from __future__ import annotations

import logging
import random
import threading
from collections import Counter
from collections.abc import Callable
from functools import partial
from typing import TypeVar

from spine.alerting.backoff import retry_after_seconds, wait_seconds
from spine.alerting.bounds import bounded_response, bounded_text
from spine.alerting.channels import DeliveryError, Message, channel_type, http_sender
from spine.alerting.models import DeliveryPolicy
from spine.alerting.secrets import open_config
from spine.alerting.store import AlertStore, Claim
from spine.core.errors import ErrorCategory, SpineError
from spine.core.secrets import redact_url_password
from spine.core.storage.outage import DatabaseWait, is_outage

log = logging.getLogger(__name__)

T = TypeVar("T")


def message_id(claim: Claim) -> str:
    """The Standard Webhooks ``webhook-id``: one per alert and channel, kept over retries."""
    return f"msg_{claim.alert.id}_{claim.channel.id}"


class DeliveryWorker:
    """Sends pending alert deliveries until stopped.

    Args:
        store: Where deliveries are claimed and recorded.
        policy: Attempts, backoff, lease, breaker and network settings.
        concurrency: Threads sending at once (each claims its own deliveries);
            ``policy.concurrency`` if not given.
        batch_size: Deliveries a thread claims at a time. 1 by default: a thread sends
            its batch one after the other, so with more, a delivery to a hung endpoint
            would hold up the rest of its batch, however fair the claim.
        poll_seconds: Longest idle wait between looks for due deliveries.
        rand: Source of jitter (``random.random``; tests pass a fixed one).

    The worker owns the HTTP client its channels send with (:attr:`http`): :meth:`run`
    closes it when it stops; code that calls :meth:`drain` or :meth:`deliver` directly
    calls :meth:`close`.
    """

    def __init__(
        self,
        store: AlertStore,
        policy: DeliveryPolicy,
        *,
        concurrency: int | None = None,
        batch_size: int = 1,
        poll_seconds: float = 1.0,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.store = store
        self.policy = policy
        self.concurrency = max(1, policy.concurrency if concurrency is None else concurrency)
        self.batch_size = max(1, batch_size)
        self.poll_seconds = poll_seconds
        self.stopping = threading.Event()
        self.http = http_sender()
        self._wait = partial(
            wait_seconds,
            base=policy.backoff_base_seconds,
            cap=policy.backoff_max_seconds,
            rand=rand,
        )
        self._count = 0
        self._lock = threading.Lock()
        self.database_wait = DatabaseWait("delivery worker", logger=log)
        #: What the attempts made through :meth:`run_once` came to since the worker was
        #: made: ``sent``, ``retry``, ``dead_letter``, ``lost`` (claim lost).
        self.outcomes: Counter[str] = Counter()

    def stop(self) -> None:
        """Ask every thread to finish its current delivery and return.

        :meth:`run` closes the HTTP client once the threads have returned.
        """
        self.stopping.set()

    def close(self) -> None:
        """Close the HTTP client (a later delivery opens a new one)."""
        self.http.close()

    def run_once(self) -> int:
        """Claim and deliver one batch on this thread; return how many were attempted."""
        claims = self.store.claim(self.batch_size)
        for index, claim in enumerate(claims):
            if self.stopping.is_set():
                # Told to stop: the claims not sent yet are due again at once, for
                # another worker, instead of waiting for their lease to run out.
                self.store.hand_back(claims[index:])
                return index
            outcome = self.deliver(claim) or "lost"
            with self._lock:
                self.outcomes[outcome] += 1
        return len(claims)

    def drain(self) -> int:
        """Deliver on this thread until nothing is due; return how many were attempted."""
        total = 0
        while not self.stopping.is_set():
            done = self.run_once()
            if not done:
                break
            total += done
        return total

    def run(self, *, once: bool = False) -> int:
        """Deliver with ``concurrency`` threads; return how many attempts were made.

        Runs until :meth:`stop`, or with ``once`` until nothing is due.
        """
        self._count = 0
        threads = [
            threading.Thread(target=self._loop, args=(once,), name=f"spine-delivery-{i}")
            for i in range(self.concurrency)
        ]
        for thread in threads:
            thread.start()
        try:
            for thread in threads:
                thread.join()
        finally:
            self.close()
        return self._count

    def _loop(self, once: bool) -> None:
        while not self.stopping.is_set():
            try:
                done = self.run_once()
            except Exception as error:
                if not is_outage(error):
                    if not isinstance(error, SpineError):
                        raise
                    log.warning("delivery worker: %s", error)
                elif once:
                    self.database_wait.failed(error)  # logged; --once gives up
                else:
                    self.database_wait.pause(error, self.stopping)
                    continue
                done = 0
            else:
                self.database_wait.succeeded()
            with self._lock:
                self._count += done
            if not done:
                if once:
                    return
                self.stopping.wait(self.poll_seconds)

    def deliver(self, claim: Claim) -> str | None:
        """Send one claimed delivery and record the outcome.

        Returns:
            ``"sent"``, ``"retry"``, ``"dead_letter"``, or None if the claim was lost.
        """
        kind = channel_type(claim.channel.channel_type)
        metadata = claim.alert.metadata
        # A webhook's channel gets the event of a quality notification, not the alert.
        event = metadata.get("webhook_event") if claim.channel.events is not None else None
        message = Message(
            alert=claim.alert,
            message_id=message_id(claim),
            delivery_id=claim.delivery_id,
            attempt=claim.attempt,
            channel_name=claim.channel.name,
            event=event,
            event_data=metadata.get("data") if event else None,
            event_at=metadata.get("occurred_at") if event else None,
        )
        response = None
        retry_after: str | None = None
        gone = False
        try:
            config = open_config(
                kind, claim.channel.config, self.policy.secret_key, now=self.store.clock.now()
            )
            sent = kind.send(
                message,
                config,
                timeout=self.policy.send_timeout_seconds,
                allow_private=self.policy.allow_private_urls,
                sender=self.http,
            )
        except DeliveryError as error:
            failure: SpineError = error
            response = error.response
            retry_after = error.retry_after
            gone = error.gone
        except SpineError as error:
            failure = error
        except Exception as error:  # a channel bug must not kill the worker
            log.exception("channel %s raised", claim.channel.name)
            failure = SpineError(
                f"{type(error).__name__}: {error}", category=ErrorCategory.INTERNAL, retryable=True
            )
        else:
            recorded = self._record(
                lambda: self.store.record_sent(claim, bounded_response(sent) or {})
            )
            return "sent" if recorded else None
        text = bounded_text(redact_url_password(str(failure)))
        log.info(
            "delivery %s of alert %s to %s failed (attempt %s): %s",
            claim.delivery_id,
            claim.alert.id,
            claim.channel.name,
            claim.attempt,
            text,
        )
        return self._record(
            lambda: self.store.record_failed(
                claim,
                error=text,
                category=failure.category.value,
                retryable=failure.retryable,
                response=bounded_response(response),
                gone=gone,
                backoff=partial(
                    self._wait,
                    retry_after=retry_after_seconds(retry_after, self.store.clock.now()),
                ),
            )
        )

    def _record(self, write: Callable[[], T]) -> T | None:
        """Record a send's outcome, waiting out an outage (``None`` if stopped first).

        The send happened: recording it later beats sending it again when its claim
        expires. A write that was in fact committed before the connection dropped finds
        the claim gone on the retry and records nothing twice.
        """
        return self.database_wait.call(write, self.stopping)
