"""Prometheus metrics: HTTP requests and latency by route, bot turns by decision, the model answering,
database faults by kind and the transactions run again after one.

Each app gets its own registry (tests build many apps in one process). With several workers
(``kefu serve --workers N``) the server sets ``PROMETHEUS_MULTIPROC_DIR`` and ``/metrics`` adds up the
values every worker wrote there, so a scrape sees the whole server and not one random worker.
"""

import os
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable, Callable], Awaitable[None]]
# Chat turns take milliseconds; admin pages and the retrain start may take a second or more.
LATENCY_BUCKETS = (0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    """The server's metrics, registered on a registry of their own."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._version: str | None = None
        self.multiprocess = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
        self.requests = Counter(
            "kefu_http_requests",
            "HTTP requests handled",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "kefu_http_request_seconds",
            "HTTP request latency",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.turns = Counter("kefu_turns", "Bot turns by decision", ["decision"], registry=self.registry)
        self.handoffs = Counter("kefu_handoffs", "Conversations handed to a human", registry=self.registry)
        self.database_faults = Counter(
            "kefu_database_faults",
            "Database errors: busy (SQLite's write lock), dropped or unreachable connection, failed",
            ["kind"],
            registry=self.registry,
        )
        self.database_retries = Counter(
            "kefu_database_retries",
            "Transactions run again after their connection dropped before COMMIT",
            registry=self.registry,
        )
        self.model = Gauge(
            "kefu_model_info",
            "The model answering (value 1)",
            ["version"],
            registry=self.registry,
            multiprocess_mode="liveall",
        )

    def set_model(self, version: str) -> None:
        """Mark ``version`` as the model answering (and a replaced one as no longer answering)."""
        if version == self._version:
            return
        if self._version is not None:  # clear() is not available in multi-process mode
            self.model.labels(version=self._version).set(0)
        self.model.labels(version=version).set(1)
        self._version = version

    def database_fault(self, kind: str) -> None:
        self.database_faults.labels(kind).inc()

    def render(self) -> bytes:
        """The text exposition of every metric (of every worker in multi-process mode)."""
        if self.multiprocess:
            registry = CollectorRegistry()
            MultiProcessCollector(registry)
            return generate_latest(registry)
        return generate_latest(self.registry)


class MetricsMiddleware:
    """Counts and times every HTTP request, labelled with its route template (``/api/v1/chat/{session_id}
    /messages``, not the concrete path, so the number of series stays small)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: MutableMapping[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            method = scope.get("method", "")
            self.metrics.requests.labels(method, route, str(status)).inc()
            self.metrics.latency.labels(method, route).observe(time.perf_counter() - started)
