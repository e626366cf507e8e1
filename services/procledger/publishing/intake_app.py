"""`procledger serve intake`: the intake API under uvicorn, wired to the real Kafka publisher."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import logging
import signal
import sys
from collections.abc import Generator
from types import FrameType

import uvicorn
from kafka.errors import KafkaError
from prometheus_client import CollectorRegistry

from procledger.adapters.kafka_publisher import KafkaOrderPublisher
from procledger.adapters.postgres_status import PostgresStatusReader
from procledger.publishing.intake import create_app
from procledger.publishing.settings import IntakeSettings
from procledger.settings import Env, SettingsError

log = logging.getLogger("procledger.intake")


class _Server(uvicorn.Server):
    """uvicorn's server, except that SIGTERM/SIGINT end with exit code 0.

    uvicorn re-raises the signal after its graceful stop, which would kill the process before
    the publisher is closed; here a signal only asks the server to stop (twice: at once).
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        def stop(_signum: int, _frame: FrameType | None) -> None:
            if self.should_exit:
                self.force_exit = True
            self.should_exit = True

        previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def run(args: argparse.Namespace) -> int:
    try:
        settings = IntakeSettings.from_env(Env())
        if args.port is not None and not 1 <= args.port <= 65535:
            raise SettingsError(f"--port must be between 1 and 65535, got {args.port}")
    except SettingsError as err:
        print(f"procledger serve intake: {err}", file=sys.stderr)
        return 2
    settings = dataclasses.replace(
        settings, host=args.host or settings.host, port=args.port or settings.port
    )
    try:
        publisher = KafkaOrderPublisher(
            settings.kafka, settings.topics, source_system=settings.source_system
        )
    except KafkaError as err:
        print(
            f"procledger serve intake: cannot reach Kafka at "
            f"{settings.kafka.bootstrap_servers}: {err}",
            file=sys.stderr,
        )
        return 1
    reader = PostgresStatusReader(settings.status_database_url)
    app = create_app(settings, publisher, CollectorRegistry(), reader)
    log.info("intake API on http://%s:%d", settings.host, settings.port)
    try:
        # Stops on SIGTERM/SIGINT once the requests in flight are answered.
        config = uvicorn.Config(app, host=settings.host, port=settings.port, log_level="warning")
        _Server(config).run()
    finally:
        publisher.close()
    return 0
