"""Background probes and outage logs: a scrape never waits, an outage is logged once each way."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from procledger.probes import OutageLog, Refresher

log = logging.getLogger("tests.probes")


def test_an_outage_is_logged_once_when_it_starts_and_once_when_it_ends(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [10.0]
    outage = OutageLog("PostgreSQL", log, clock=lambda: now[0])
    caplog.set_level("INFO", logger="tests.probes")
    outage.recovered()  # nothing was down: nothing to say
    for _ in range(5):
        outage.failed("connection refused")
        now[0] += 2
    outage.recovered()
    outage.recovered()
    assert [r.getMessage() for r in caplog.records] == [
        "PostgreSQL unreachable: connection refused",
        "PostgreSQL reachable again after 10.0s",
    ]


def test_a_long_outage_is_recalled_at_most_once_per_interval(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    outage = OutageLog("Kafka", log, clock=lambda: now[0], remind_s=60)
    caplog.set_level("INFO", logger="tests.probes")
    for second in range(0, 150, 5):  # a check every 5 s for 145 s
        now[0] = float(second)
        outage.failed(f"refused at {second}")
    outage.recovered()
    assert [r.getMessage() for r in caplog.records] == [
        "Kafka unreachable: refused at 0",
        "Kafka still unreachable after 60s: refused at 60",
        "Kafka still unreachable after 120s: refused at 120",
        "Kafka reachable again after 145.0s",
    ]


def test_a_refresher_keeps_the_last_good_value_and_reports_failure() -> None:
    answers: list[int | Exception] = [1, OSError("refused"), 3]

    def fetch() -> int:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    refresher = Refresher("test", fetch, interval_s=1.0, timeout_s=1.0)
    assert not refresher.state().ok, "not probed yet is not up"
    refresher.refresh_once()
    assert refresher.state().ok and refresher.state().value == 1
    refresher.refresh_once()
    state = refresher.state()
    assert not state.ok and state.value == 1 and state.error == "OSError: refused"
    refresher.refresh_once()
    assert refresher.state().ok and refresher.state().value == 3


def test_a_hung_call_counts_as_down_and_is_not_stacked(caplog: pytest.LogCaptureFixture) -> None:
    release = threading.Event()
    calls: list[int] = []

    def fetch() -> int:
        calls.append(1)
        if len(calls) == 2:
            release.wait(30)
        return len(calls)

    outage = OutageLog("the database", log)
    refresher = Refresher("test", fetch, interval_s=1.0, timeout_s=0.1, outage=outage)
    caplog.set_level("INFO", logger="tests.probes")
    refresher.refresh_once()
    refresher.refresh_once()  # hangs past its timeout
    refresher.refresh_once()  # waits on the same call, does not start another
    assert not refresher.state().ok
    assert len(calls) == 2
    release.set()
    refresher.refresh_once()  # the hung call's answer arrives
    assert refresher.state().ok
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2
    assert messages[0].startswith("the database unreachable: no answer within 0.")
    assert messages[1].startswith("the database reachable again after")


def test_a_background_refresher_runs_and_stops() -> None:
    seen = threading.Event()

    def fetch() -> int:
        seen.set()
        return 1

    refresher = Refresher("test", fetch, interval_s=0.05, timeout_s=1.0).start()
    assert seen.wait(5)
    assert refresher.stop(), "no call left running"


def test_a_background_refresher_calls_once_per_interval() -> None:
    calls: list[float] = []
    first = threading.Event()

    def fetch() -> int:
        calls.append(1.0)
        first.set()
        return 1

    refresher = Refresher("once", fetch, interval_s=30.0, timeout_s=1.0).start()
    assert first.wait(5)
    time.sleep(0.3)  # a second call would come at once, not after the 30 s interval
    assert refresher.stop()
    assert len(calls) == 1


def test_a_refresher_within_its_busy_share_waits_longer_after_a_slow_read() -> None:
    bounded = Refresher("grows", lambda: 1, interval_s=5.0, timeout_s=5.0, busy_share=0.05)
    assert bounded.pause_after(0.1) == pytest.approx(4.9)  # a quick read: the interval
    assert bounded.pause_after(2.0) == pytest.approx(38.0)  # 2 s of every 40
    # At most 12 intervals: a call that also waited on a frozen server is not all cost.
    assert bounded.pause_after(5.3) == pytest.approx(60.0)
    # A call still hung after the timeout costs the server nothing: look again on time.
    assert bounded.pause_after(5.0, finished=False) == 0.0
    # Without a share, a read slower than the interval runs back to back, as before.
    unbounded = Refresher("plain", lambda: 1, interval_s=5.0, timeout_s=5.0)
    assert unbounded.pause_after(5.3) == 0.0
    assert unbounded.pause_after(1.0) == 4.0


def test_refresh_once_says_whether_the_call_finished() -> None:
    release = threading.Event()
    ok = Refresher("ok", lambda: 1, interval_s=5.0, timeout_s=1.0)
    assert ok.refresh_once() is True

    def fail() -> int:
        raise RuntimeError("refused")

    assert Refresher("fails", fail, interval_s=5.0, timeout_s=1.0).refresh_once() is True
    hung = Refresher("hung", release.wait, interval_s=5.0, timeout_s=0.05)
    assert hung.refresh_once() is False
    release.set()
    assert hung.refresh_once() is True


@pytest.mark.parametrize("share", [0.0, -0.1, 1.5])
def test_a_busy_share_outside_zero_to_one_is_refused(share: float) -> None:
    with pytest.raises(ValueError, match="busy_share"):
        Refresher("bad", lambda: 1, interval_s=5.0, timeout_s=5.0, busy_share=share)
