"""Alerting speed: alerts recorded per second with 5 matching channels, and deliveries
sent per second to a local HTTP receiver by a worker with 4 threads.

    .venv/bin/python -m benchmarks.alerting                    # SQLite and PostgreSQL
    .venv/bin/python -m benchmarks.alerting --backend sqlite --repeat 5
    .venv/bin/python -m benchmarks.alerting --postgres postgresql+psycopg://postgres@127.0.0.1/test

Recording an alert is one transaction: the alert, the routing read, 5 delivery rows and
the throttle row. A delivery is three transactions (claim, send outside, record) plus the
HTTP request; the receiver answers at once, so the figure is spine's own overhead.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import fresh_database, machine, median_seconds, row

from spine.alerting import AlertService, AlertStore, DeliveryPolicy, DeliveryWorker
from spine.core.clock import SystemClock
from spine.core.storage import Database
from spine.core.storage.schema.alerting import core_alert_deliveries, core_alerts

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
POLICY = DeliveryPolicy(allow_private_urls=True, breaker_threshold=10_000)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        self.send_response(204)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return


def _clear(database: Database) -> None:
    with database.write() as conn:
        conn.execute(core_alert_deliveries.delete())
        conn.execute(core_alerts.delete())


def floor_alerts(database: Database, count: int, repeat: int) -> float:
    """Transactions per second of the driver alone inserting 1 alert row and 5 delivery
    rows (no routing read, no throttle row): what any outbox must at least write."""
    import sqlalchemy as sa

    from spine.core.ids import new_id
    from spine.core.storage.schema.alerting import core_alert_channels

    now: Any = datetime.now(UTC)
    if database.is_sqlite:
        now = now.isoformat(timespec="microseconds")
    channel_ids = [new_id() for _ in range(5)]
    with database.write() as conn:
        conn.execute(
            sa.insert(core_alert_channels),
            [
                {
                    "id": cid,
                    "name": f"floor-{i}",
                    "channel_type": "webhook",
                    "config_json": {},
                    "created_at": datetime.now(UTC),
                    "updated_at": datetime.now(UTC),
                }
                for i, cid in enumerate(channel_ids)
            ],
        )
    raw = database.engine.raw_connection()
    marker = "?" if database.is_sqlite else "%s"
    alert_sql = (
        "INSERT INTO core_alerts (id, severity, title, message, source, created_at) "
        f"VALUES ({marker}, 'ERROR', 't', 'm', 'bench', {marker})"
    )
    delivery_sql = (
        "INSERT INTO core_alert_deliveries (id, alert_id, channel_id, channel_name, status, "
        f"attempt, next_retry_at) VALUES ({marker}, {marker}, {marker}, 'c', 'PENDING', 1, "
        f"{marker})"
    )

    def once() -> None:
        _clear(database)
        cursor = raw.cursor()
        for _ in range(count):
            alert_id = new_id()
            cursor.execute(alert_sql, (alert_id, now))
            cursor.executemany(
                delivery_sql, [(new_id(), alert_id, cid, now) for cid in channel_ids]
            )
            raw.commit()
        cursor.close()

    median, _ = median_seconds(once, repeat)
    raw.close()
    with database.write() as conn:
        conn.execute(
            sa.delete(core_alert_channels).where(core_alert_channels.c.id.in_(channel_ids))
        )
    return count / median


def bench_alerts(database: Database, count: int, repeat: int) -> float:
    """Alerts per second, each routed to 5 channels."""
    service = AlertService(AlertStore(database, SystemClock(), POLICY), POLICY)
    for i in range(5):
        service.add_channel(
            f"bench-{i}",
            "webhook",
            {"url": "http://127.0.0.1:9/", "secret_ref": "env:BENCH_SECRET"},
        )

    def once() -> None:
        _clear(database)
        for i in range(count):
            service.send("ERROR", f"title {i % 50}", "message", source="bench", domain="finra.otc")

    median, _ = median_seconds(once, repeat)
    for i in range(5):
        service.store.remove_channel(f"bench-{i}")
    return count / median


def bench_deliveries(database: Database, count: int, repeat: int, workers: int) -> float:
    """Deliveries per second to a local receiver with ``workers`` sending threads."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    service = AlertService(AlertStore(database, SystemClock(), POLICY), POLICY)
    service.add_channel("receiver", "webhook", {"url": url, "secret_ref": "env:BENCH_SECRET"})
    times = []
    for _ in range(repeat):
        _clear(database)
        for i in range(count):
            service.send("ERROR", f"title {i}", "message", source="bench")
        worker = DeliveryWorker(service.store, POLICY, concurrency=workers, batch_size=5)
        start = time.perf_counter()
        worker.run(once=True)
        times.append(time.perf_counter() - start)
    server.shutdown()
    service.store.remove_channel("receiver")
    times.sort()
    return count / times[len(times) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "all"], default="all")
    parser.add_argument("--postgres", help="PostgreSQL URL (default: $SPINE_BENCH_POSTGRES_URL)")
    parser.add_argument("--alerts", type=int, default=500)
    parser.add_argument("--deliveries", type=int, default=500)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    os.environ["BENCH_SECRET"] = SECRET
    if args.postgres:
        import _common

        _common.PG_URL = args.postgres
    print(machine())
    figures: dict[str, float] = {}
    backends = ["sqlite", "postgresql"] if args.backend == "all" else [args.backend]
    for backend in backends:
        with fresh_database(backend) as (database, _url):
            print(f"{backend}:")
            floor = floor_alerts(database, args.alerts, args.repeat)
            figures[f"{backend}.floor_alert_transactions_per_second"] = floor
            row("floor: driver alone, 1 alert + 5 delivery rows", f"{floor:,.0f}/s", "")
            rate = bench_alerts(database, args.alerts, args.repeat)
            figures[f"{backend}.alerts_per_second"] = rate
            row(
                "alerts recorded, 5 matching channels",
                f"{rate:,.0f}/s",
                f"median of {args.repeat}, {floor / rate:.2f}x the floor's time",
            )
            rate = bench_deliveries(database, args.deliveries, args.repeat, args.workers)
            figures[f"{backend}.deliveries_per_second"] = rate
            row(
                f"deliveries sent to a local receiver, {args.workers} workers",
                f"{rate:,.0f}/s",
                f"median of {args.repeat}",
            )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
