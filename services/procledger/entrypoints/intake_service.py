"""`procledger serve intake`: the intake API under uvicorn, wired to the real Kafka publisher."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import logging
import signal
import sys
from collections.abc import Callable, Generator
from types import FrameType

import uvicorn
from kafka.errors import KafkaError
from prometheus_client import CollectorRegistry

from procledger.adapters.kafka.probe import BrokerProbe
from procledger.adapters.kafka.publisher import KafkaOrderPublisher
from procledger.adapters.postgres.status import PostgresStatusReader
from procledger.entrypoints.http.intake import create_app
from procledger.publishing.intake_publish import STOP_GRACE_S, IntakePublishing
from procledger.settings import Env, SettingsError
from procledger.settings.publishing import IntakeSettings

log = logging.getLogger("procledger.intake")


class _Server(uvicorn.Server):
    """uvicorn's server, except that SIGTERM/SIGINT end with exit code 0.

    uvicorn re-raises the signal after its graceful stop, which would kill the process before
    the publisher is closed; here a signal only asks the server to stop (twice: at once) and
    cuts the requests waiting for Kafka short, so the process ends within 10 s.
    """

    def __init__(self, config: uvicorn.Config, on_stop: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_stop = on_stop

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        def stop(_signum: int, _frame: FrameType | None) -> None:
            if self.should_exit:
                self.force_exit = True
            self.should_exit = True
            self._on_stop()

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
            settings.kafka,
            settings.topics,
            source_system=settings.source_system,
            linger_ms=5,
            delivery_timeout_s=settings.publish_timeout_s,
        )
    except KafkaError as err:
        print(
            f"procledger serve intake: cannot reach Kafka at "
            f"{settings.kafka.bootstrap_servers}: {err}",
            file=sys.stderr,
        )
        return 1
    probe = BrokerProbe(settings.kafka, (settings.topics.orders, settings.topics.stockpile_targets))
    status = probe.start()  # logs a missing topic by name
    reader = PostgresStatusReader(settings.status_database_url)
    app = create_app(settings, publisher, CollectorRegistry(), reader, probe)
    publishing: IntakePublishing = app.state.publishing
    log.info(
        "intake API on http://%s:%d (Kafka %s, publish limit %d s)%s",
        settings.host,
        settings.port,
        settings.kafka.bootstrap_servers,
        settings.publish_timeout_s,
        "" if status.problem is None else f"; not ready: {status.problem}",
    )
    try:
        # Stops on SIGTERM/SIGINT once the requests in flight are answered (or failed).
        # uvicorn's loggers go through the process's handler (LOG_FORMAT=json: one object
        # per line, access lines too), not a config of uvicorn's own; its start-up chatter
        # only from WARNING up (the line above says where the intake listens).
        logging.getLogger("uvicorn.error").setLevel(max(log.getEffectiveLevel(), logging.WARNING))
        config = uvicorn.Config(
            app,
            host=settings.host,
            port=settings.port,
            log_config=None,
            log_level=None,
            timeout_graceful_shutdown=int(STOP_GRACE_S) + 2,
        )
        _Server(config, publishing.stop).run()
    finally:
        probe.close()
        publishing.close()
        # Records still unconfirmed were answered 503: a short wait, then drop them.
        publisher.close(timeout_s=1)
    log.info("intake API stopped")
    return 0
