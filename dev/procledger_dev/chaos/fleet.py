"""ConsumerFleet: `procledger consume` subprocesses killed, paused and resumed on a seeded plan."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

# Substrings of the consumer's own log lines
# (procledger.adapters.kafka.source, procledger.ledger.loop).
ASSIGNED = "assigned [("
FENCED = "batch rolled back"
DB_RETRY = "database unavailable"


def catches_sigterm(pid: int) -> bool:
    """True once process `pid` has a handler for SIGTERM (Linux: the SigCgt mask of
    /proc/PID/status); False if it has none yet or is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    for line in status.splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) >> (signal.SIGTERM - 1) & 1)
    return False


# Every fleet made in this process, so a test harness can stop the members of a failed test.
FLEETS: list[ConsumerFleet] = []


def stop_every_fleet() -> None:
    """SIGCONT and SIGTERM whatever is still running (a test that failed midway left it)."""
    while FLEETS:
        FLEETS.pop().stop_all()


@dataclass
class Member:
    """One consumer process and the file its log goes to."""

    name: str
    proc: subprocess.Popen[bytes]
    log: Path
    paused: bool = False
    ended_by_fleet: bool = False  # killed or stopped on purpose, not ended by itself

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@dataclass
class FleetCounts:
    """What the fleet did to its members, for the reliability report."""

    started: int = 0
    kills: int = 0
    pauses: int = 0
    stops: int = 0


@dataclass
class ConsumerFleet:
    """Starts members of one consumer group; every fault is drawn from one seeded generator."""

    env: Mapping[str, str]
    log_dir: Path
    seed: int = 0
    counts: FleetCounts = field(default_factory=FleetCounts)
    members: list[Member] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        FLEETS.append(self)

    def start(self, extra_env: Mapping[str, str] | None = None) -> Member:
        """Start one more `procledger consume` in the group; its stderr goes to its own log."""
        name = f"consumer-{len(self.members) + 1}"
        log = self.log_dir / f"{name}.log"
        with log.open("ab") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "procledger", "consume"],
                env={**self.env, **(extra_env or {})},
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        member = Member(name, proc, log)
        self.members.append(member)
        self.counts.started += 1
        return member

    def alive(self) -> list[Member]:
        return [m for m in self.members if m.alive]

    def pick(self) -> Member:
        """A random running, unpaused member (the seeded choice of whom to hurt)."""
        candidates = [m for m in self.alive() if not m.paused]
        if not candidates:
            raise RuntimeError("no running consumer to pick")
        return self.rng.choice(candidates)

    def kill(self, member: Member) -> None:
        """SIGKILL: no chance to finish the batch, close the consumer or leave the group."""
        if member.paused:
            self.resume(member)
        member.ended_by_fleet = True
        member.proc.kill()
        member.proc.wait()
        self.counts.kills += 1

    def pause(self, member: Member) -> None:
        """SIGSTOP: the process keeps its sockets and locks but stops heartbeating (a zombie)."""
        os.kill(member.proc.pid, signal.SIGSTOP)
        member.paused = True
        self.counts.pauses += 1

    def resume(self, member: Member) -> None:
        os.kill(member.proc.pid, signal.SIGCONT)
        member.paused = False

    def stop(self, member: Member, timeout: float = 60) -> int:
        """SIGTERM (the batch in hand is finished); SIGKILL only if it hangs."""
        if member.paused:
            self.resume(member)
        member.ended_by_fleet = True
        deadline = time.monotonic() + timeout
        # A member just started may still be loading Python: SIGTERM then ends it before it
        # can handle the signal (exit -15), which no code of the consumer can prevent. It is
        # signalled once it catches SIGTERM, or at the deadline all the same.
        while member.alive and not catches_sigterm(member.proc.pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        if member.alive:
            member.proc.send_signal(signal.SIGTERM)
        try:
            code = member.proc.wait(timeout=max(deadline - time.monotonic(), 1.0))
        except subprocess.TimeoutExpired:
            member.proc.kill()
            code = member.proc.wait()
        self.counts.stops += 1
        return code

    def stop_all(self) -> dict[str, int]:
        """Stop every running member; returns each one's exit code."""
        return {m.name: self.stop(m) for m in self.alive()}

    def vanished(self) -> dict[str, str]:
        """Members that ended without the fleet killing or stopping them: name -> exit code
        and the end of its log (why it ended, if it said so)."""
        return {
            m.name: f"exit {m.proc.returncode}: ...{m.log_text()[-3000:]}"
            for m in self.members
            if not m.alive and not m.ended_by_fleet
        }

    def log_count(self, needle: str) -> int:
        """How many times the members logged `needle` (assignments, fencing, retries)."""
        return sum(m.log_text().count(needle) for m in self.members)

    @property
    def rebalances(self) -> int:
        """Non-empty partition assignments received, over every member's lifetime."""
        return self.log_count(ASSIGNED)

    def delay(self, low: float, high: float) -> float:
        """A seeded pause length, so a failing schedule can be replayed with the same seed."""
        return self.rng.uniform(low, high)
