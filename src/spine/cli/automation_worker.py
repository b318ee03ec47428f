"""The automation loops ``spine worker`` runs beside its runs, unless ``--no-dispatch``.

The dispatcher (rules for the changes of watched tables) and the notification sender
(pending e-mail, SMS and push deliveries) run in threads of their own. The dispatcher
works only while it holds the leader lock, so several workers run one dispatcher between
them and another takes over when its process dies; senders share the work by claims.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from rich.markup import escape

from spine.cli.output import err_console

if TYPE_CHECKING:
    from spine.automation.dispatcher import Dispatcher
    from spine.automation.notifications import NotificationSender
    from spine.bootstrap import Services


class AutomationLoops:
    """The dispatcher's and the notification sender's threads of ``spine worker``.

    Args:
        services: The worker's services (the dispatcher acts for every workspace).
        once: Handle what is recorded now and return, instead of running until stopped.
    """

    def __init__(self, services: Services, *, once: bool, database_wait: Any = None) -> None:
        self.once = once
        self.stopping = threading.Event()
        self.dispatcher: Dispatcher = services.automation.dispatcher()
        self.sender: NotificationSender = services.automation.notification_sender()
        if database_wait is not None:
            # One outage back-off for the worker's loops: an outage is reported once.
            self.dispatcher.database_wait = database_wait
            self.sender.database_wait = database_wait
        self.threads = [
            threading.Thread(target=self._dispatch, name="spine-dispatcher", daemon=True),
            threading.Thread(target=self._send, name="spine-notifications", daemon=True),
        ]

    def start(self) -> None:
        """Start the threads."""
        for thread in self.threads:
            thread.start()

    def stop(self) -> None:
        """Ask the loops to finish what they are doing (safe in a signal handler)."""
        self.stopping.set()
        self.dispatcher.stop()

    def join(self) -> None:
        """Wait for the loops to return."""
        for thread in self.threads:
            thread.join()

    def _dispatch(self) -> None:
        try:
            if self.once:
                self.dispatcher.drain()
            else:
                self.dispatcher.run(self.stopping)
        except Exception as error:  # --once during an outage: the changes stay recorded
            text = str(error).splitlines()[0] if str(error) else type(error).__name__
            err_console.print(f"dispatcher: {escape(text)}", highlight=False)

    def _send(self) -> None:
        try:
            if self.once:
                self.sender.run_once()
            else:
                self.sender.run(self.stopping)
        except Exception as error:  # --once during an outage: the deliveries stay pending
            text = str(error).splitlines()[0] if str(error) else type(error).__name__
            err_console.print(f"notifications: {escape(text)}", highlight=False)
