"""wait_for: polls only what is still unknown, stops when all are known or time is up."""

from __future__ import annotations

from collections.abc import Sequence

from procledger.publishing.status import EventStatus, Outcome, statuses, wait_for


class _Ledger:
    """The ledger's answers as they appear over successive polls (ids become known)."""

    def __init__(self, rounds: list[dict[str, Outcome]]) -> None:
        self.rounds = rounds
        self.asked: list[list[str]] = []

    def lookup(self, event_ids: Sequence[str]) -> dict[str, EventStatus]:
        self.asked.append(list(event_ids))
        known = self.rounds[min(len(self.asked), len(self.rounds)) - 1]
        return {i: EventStatus(i, known[i]) for i in event_ids if i in known}


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_wait_asks_again_only_for_unknown_ids_and_keeps_the_order() -> None:
    ledger = _Ledger([{"a": Outcome.APPLIED}, {"b": Outcome.REJECTED, "c": Outcome.APPLIED}])
    clock = _Clock()
    found = wait_for(ledger, ["c", "a", "b", "a"], 10, clock=clock, sleep=clock.sleep)
    assert [(s.event_id, s.status) for s in found] == [
        ("c", Outcome.APPLIED), ("a", Outcome.APPLIED), ("b", Outcome.REJECTED),
    ]  # fmt: skip
    assert ledger.asked == [["c", "a", "b"], ["c", "b"]]


def test_wait_gives_up_at_the_deadline_with_unknowns() -> None:
    ledger = _Ledger([{}])
    clock = _Clock()
    found = wait_for(ledger, ["x"], 1.0, interval=0.25, clock=clock, sleep=clock.sleep)
    assert [s.status for s in found] == [Outcome.UNKNOWN]
    assert clock.now == 1.0
    assert len(ledger.asked) == 5  # at 0, 0.25, 0.5, 0.75 and 1.0


def test_statuses_answers_each_id_asked() -> None:
    ledger = _Ledger([{"a": Outcome.APPLIED}])
    assert [s.status for s in statuses(ledger, ["a", "z"])] == [Outcome.APPLIED, Outcome.UNKNOWN]
    assert EventStatus("z", Outcome.UNKNOWN).to_json() == {"event_id": "z", "status": "unknown"}
