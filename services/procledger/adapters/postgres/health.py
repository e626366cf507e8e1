"""PostgresPing: whether PostgreSQL answers a trivial query, over a connection of its own."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import psycopg

T = TypeVar("T")


class DatabaseUnreachable(Exception):
    """PostgreSQL refused, dropped or did not answer the probe; the message says which."""


def one_line(err: BaseException) -> str:
    """libpq's messages span lines ("connection failed: ...\\n\\tIs the server running"):
    one line, so a log line stays one line."""
    return " ".join(str(err).split())


class PostgresPing:
    """`SELECT 1` on a kept connection, reopened after a failure.

    The caller bounds how long it waits (see procledger.probes.Refresher): a frozen
    server accepts the TCP connection and then answers nothing, which no server-side timeout
    ends.
    """

    def __init__(self, url: str, application_name: str, connect_timeout_s: int = 3) -> None:
        self._url = url
        self._application_name = application_name
        self._connect_timeout_s = connect_timeout_s
        self._conn: psycopg.Connection[tuple[Any, ...]] | None = None

    def __call__(self) -> None:
        self.run(lambda conn: conn.execute("SELECT 1"))

    def run(self, query: Callable[[psycopg.Connection[Any]], T]) -> T:
        """`query` on the kept connection; any failure is DatabaseUnreachable."""
        try:
            if self._conn is None or self._conn.closed or self._conn.broken:
                self._conn = psycopg.connect(
                    self._url,
                    autocommit=True,
                    connect_timeout=self._connect_timeout_s,
                    application_name=self._application_name,
                )
            return query(self._conn)
        except psycopg.Error as err:
            self.close()
            raise DatabaseUnreachable(one_line(err)) from err

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
