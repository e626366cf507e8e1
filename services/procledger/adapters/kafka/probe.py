"""BrokerProbe: whether the brokers answer and the topics exist, checked in the background."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

from kafka.admin import KafkaAdminClient
from kafka.errors import KafkaError, TopicAuthorizationFailedError, UnknownTopicOrPartitionError

from procledger.probes import OutageLog
from procledger.settings import KafkaSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BrokerStatus:
    """The last check's verdict; `problem` is None when the intake can publish."""

    reachable: bool
    missing_topics: tuple[str, ...]
    problem: str | None


class BrokerProbe:
    """Asks the brokers for the topic list every `interval_s` from a daemon thread.

    Each check runs in a thread of its own with a deadline: kafka-python's topics() can wait
    for ever for a metadata answer (seen after a broker restart), so a check unanswered in
    CHECK_TIMEOUT_S counts as a failure and the next one starts with a fresh client. The
    probe reads the metadata of every topic, not of named ones, so kafka-python does not log
    "Topic ... not found" for a missing topic; the probe logs each change once itself.
    """

    CHECK_TIMEOUT_S = 8.0
    MAX_STUCK = 3  # checks left waiting at once; past that, no new one is started
    # A topic that is not there, or that this client may not see, is missing (as it is
    # for the consumer and the producer); with any other error (its leader being elected,
    # say) the topic exists.
    MISSING = frozenset({UnknownTopicOrPartitionError.errno, TopicAuthorizationFailedError.errno})

    def __init__(
        self,
        kafka: KafkaSettings,
        topics: Iterable[str],
        interval_s: float = 2.0,
        *,
        client_id: str = "procledger-intake-probe",
        missing_means: str = "POSTs for it are refused with 503",
        outage: OutageLog | None = None,
    ):
        self._kafka = kafka
        self._client_id = client_id
        self._missing_means = missing_means  # what a missing topic does to the user
        self._topics = tuple(dict.fromkeys(topics))
        self._interval_s = interval_s
        self._stale_s = interval_s + self.CHECK_TIMEOUT_S + 2
        self._client: KafkaAdminClient | None = None
        self._stuck: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._answered_at: float | None = None
        self._missing: tuple[str, ...] = ()
        self._error: str | None = "not checked yet"
        self._outage = outage or OutageLog(f"Kafka at {kafka.bootstrap_servers}", log)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kafka-probe", daemon=True)

    def start(self) -> BrokerStatus:
        """Check once (so a missing topic is named at start), then keep checking."""
        self._check()
        self._thread.start()
        return self.status()

    def status(self) -> BrokerStatus:
        with self._lock:
            answered, missing, error = self._answered_at, self._missing, self._error
        where = self._kafka.bootstrap_servers
        if error is not None or answered is None or time.monotonic() - answered > self._stale_s:
            reason = error or f"no answer for over {self._stale_s:g} s"
            return BrokerStatus(False, missing, f"Kafka at {where} is unreachable: {reason}")
        if missing:
            names = ", ".join(missing)
            problem = f"topic {names} does not exist on Kafka at {where}"
            return BrokerStatus(True, missing, f"{problem} (run `procledger topics create`)")
        return BrokerStatus(True, (), None)

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            self._check()

    def _ask(self, client: KafkaAdminClient | None, outcome: list[object]) -> None:
        """One metadata request; puts the client and the names of the probe's topics that
        exist (or the error) in `outcome`."""
        try:
            if client is None:
                # Short timeouts: an outage is seen within seconds, not 30.
                client = KafkaAdminClient(
                    client_id=self._client_id,
                    request_timeout_ms=5000,
                    bootstrap_timeout_ms=5000,
                    **self._kafka.client_config(),
                )
            described = client.describe_topics(list(self._topics))
            outcome += [
                client,
                {t["name"] for t in described if t["error_code"] not in self.MISSING},
            ]
        except (KafkaError, OSError) as err:
            if client is not None:
                client.close()
            outcome += [None, f"{type(err).__name__}: {err}"]

    def _check(self) -> None:
        self._stuck = [t for t in self._stuck if t.is_alive()]
        if len(self._stuck) >= self.MAX_STUCK:
            self._failed(f"{len(self._stuck)} metadata requests still unanswered")
            return
        outcome: list[object] = []
        worker = threading.Thread(
            target=self._ask, args=(self._client, outcome), name="kafka-probe-check", daemon=True
        )
        worker.start()
        worker.join(self.CHECK_TIMEOUT_S)
        if worker.is_alive():
            # Left to itself (it holds the old client); the next check starts afresh.
            self._stuck.append(worker)
            self._client = None
            self._failed(f"no metadata answer within {self.CHECK_TIMEOUT_S:g} s")
            return
        client, answer = outcome
        self._client = client if isinstance(client, KafkaAdminClient) else None
        if isinstance(answer, str):
            self._failed(answer)
            return
        assert isinstance(answer, set)
        missing = tuple(t for t in self._topics if t not in answer)
        with self._lock:
            was_missing = self._missing
            self._answered_at, self._missing, self._error = time.monotonic(), missing, None
        self._outage.recovered()
        if missing != was_missing:
            if missing:
                log.error("%s: %s", self.status().problem, self._missing_means)
            else:
                log.info("topics %s exist", ", ".join(self._topics))

    def _failed(self, error: str) -> None:
        with self._lock:
            self._error = error
        self._outage.failed(error)

    def close(self) -> None:
        self._stop.set()
        # A check blocked on a frozen broker must not hold up the process's exit.
        self._thread.join(timeout=0.2)
        if self._client is not None and not self._thread.is_alive():
            self._client.close()
