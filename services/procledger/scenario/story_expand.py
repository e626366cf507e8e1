"""Expands one story order spec into its events: placement, amendments, lots and payments."""

from __future__ import annotations

import heapq
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_DOWN, Decimal

from procledger.domain import events as ev
from procledger.domain.money import CENT, order_value
from procledger.scenario.reference_data import AGENCIES, SUPPLIERS, nsn, usd_rate
from procledger.scenario.story_data import (
    NATIONAL,
    STORY_CALIBER,
    WINDOW_END,
    WINDOW_START,
    Amend,
    Spec,
)

HORIZON = date(2023, 12, 31)  # lots and payments falling later are simply not in the story

# Fixed namespace: event ids are uuid5 of a readable path, identical on every run.
NAMESPACE = uuid.UUID("6f1c2a3e-9b7d-5e41-8c2f-155155155155")

# Hour of day per kind keeps one order's same-day events in lifecycle order.
_HOURS = {"place": 9, "amend": 10, "lot": 13, "cancel": 15, "pay": 16}
_PAY_AFTER = timedelta(days=30)
_ADVANCE_AFTER = timedelta(days=14)

# The balancing pair: a big US call-off absorbs the remainder to the dollar, and a
# 100-round first-article lot absorbs the cents (100 * a 4-place price is any cent amount).
_BIG_QUANTITY = 50000
_FAT_QUANTITY = 100
_FAT_TARGET = Decimal("620000.00")
_PLACES4 = Decimal("0.0001")

# (occurred_at, order index, sequence within the order, event): the global sort key.
Timed = tuple[datetime, int, int, ev.Event]


def uid(path: str) -> str:
    """A deterministic UUID string for a readable path."""
    return str(uuid.uuid5(NAMESPACE, path))


def at(day: date, kind: str, index: int) -> datetime:
    """When an event of `kind` happens on `day`; the minute spreads orders apart."""
    return datetime(day.year, day.month, day.day, _HOURS[kind], index % 60, tzinfo=UTC)


def in_window(spec: Spec) -> bool:
    """Whether the order counts towards the article's $1bn (155mm, placed 1 Jan-15 Jun)."""
    return spec.caliber == STORY_CALIBER and WINDOW_START.date() <= spec.placed <= WINDOW_END.date()


def placed_event(spec: Spec, index: int) -> ev.OrderPlaced:
    """The OrderPlaced of a spec, with supplier country, contract reference and NSN."""
    country = spec.supplier_country or SUPPLIERS[spec.supplier]
    agency = "NSPA" if spec.purpose.value == "NATO_COMMON_FUNDING" else AGENCIES.get(spec.buyer)
    return ev.OrderPlaced(
        event_id=uid(f"{spec.key}/placed"),
        occurred_at=at(spec.placed, "place", index),
        order_id=uid(f"order/{spec.key}"),
        buyer=spec.buyer,
        supplier=spec.supplier,
        item_description=spec.item,
        caliber_mm=spec.caliber,
        quantity=spec.quantity,
        unit_price=Decimal(spec.unit_price),
        currency=spec.currency,
        usd_rate=usd_rate(spec.currency, spec.placed),
        purpose=spec.purpose,
        destination=spec.destination,
        supplier_country=country,
        contract_ref=f"{agency or 'MOD-' + spec.buyer}-{spec.placed:%Y}-{index + 1:04d}",
        nsn=nsn(spec.item, spec.caliber, country),
    )


class Expansion:
    """Plays one order's schedule in time order, tracking what a ledger would hold."""

    def __init__(self, spec: Spec, index: int) -> None:
        self.spec, self.index = spec, index
        self.placed = placed_event(spec, index)
        self.quantity, self.price = spec.quantity, self.placed.unit_price
        self.delivered, self.paid, self.cancelled = 0, Decimal(0), False
        self.events: list[Timed] = []
        self._actions: list[tuple[datetime, int, str, Amend | Decimal | str | None]] = []
        self._seq = 0
        self._emit(self.placed)
        self._schedule()
        while self._actions:
            when, n, kind, payload = heapq.heappop(self._actions)
            self._run(when, f"{spec.key}/{kind}/{n}", kind, payload)
        if in_window(spec) and any(
            t[0] > WINDOW_END and isinstance(t[3], ev.OrderAmended | ev.OrderCancelled)
            for t in self.events
        ):
            raise AssertionError(f"story order {spec.key} changes value after mid-June")

    @property
    def value_usd(self) -> Decimal:
        """Final ordered value in USD at the placement rate."""
        return order_value(self.quantity, self.price, self.placed.usd_rate)

    def _push(self, when: datetime, kind: str, payload: Amend | Decimal | str | None) -> None:
        heapq.heappush(self._actions, (when, self._seq, kind, payload))
        self._seq += 1

    def _emit(self, event: ev.Event) -> None:
        self.events.append((event.occurred_at, self.index, len(self.events), event))

    def _schedule(self) -> None:
        spec, index = self.spec, self.index
        for amend in spec.amendments:
            self._push(at(amend.day, "amend", index), "amend", amend)
        if spec.cancel is not None:
            self._push(at(spec.cancel[0], "cancel", index), "cancel", spec.cancel[1])
        if spec.advance_pct:
            advance = order_value(self.quantity, self.price) * spec.advance_pct / 100
            self._push(at(spec.placed + _ADVANCE_AFTER, "pay", index), "pay", advance)
        lot_day, lots = spec.placed + timedelta(days=spec.first_lot_days), 0
        while lot_day <= HORIZON and lots < spec.max_lots:
            self._push(at(lot_day, "lot", index), "lot", None)
            lot_day, lots = lot_day + timedelta(days=spec.lot_every_days), lots + 1

    def _run(self, when: datetime, path: str, kind: str, payload: object) -> None:
        order_id = self.placed.order_id
        if isinstance(payload, Amend):
            price = None if payload.unit_price is None else Decimal(payload.unit_price)
            self._emit(
                ev.OrderAmended(uid(path), when, order_id, payload.quantity, price, payload.reason)
            )
            self.quantity = payload.quantity or self.quantity
            self.price = price or self.price
        elif kind == "cancel":
            self._emit(ev.OrderCancelled(uid(path), when, order_id, str(payload)))
            self.quantity, self.cancelled = self.delivered, True
        elif kind == "lot" and not self.cancelled and self.delivered < self.quantity:
            self._deliver(when, path)
        elif isinstance(payload, Decimal) and when.date() <= HORIZON:
            amount = payload.quantize(CENT, rounding=ROUND_DOWN)
            if self.paid + amount > order_value(self.quantity, self.price):
                raise AssertionError(f"story order {self.spec.key} would be overpaid at {when}")
            self.paid += amount
            rate = usd_rate(self.spec.currency, when.date())
            pay_id = uid(f"{path}/pay")
            self._emit(
                ev.PaymentRecorded(
                    uid(path), when, order_id, pay_id, amount, self.spec.currency, rate
                )
            )

    def _deliver(self, when: datetime, path: str) -> None:
        spec = self.spec
        quantity = min(spec.lot_size or max(1, spec.quantity // 5), self.quantity - self.delivered)
        lot_id = uid(f"{path}/lot")
        order_id = self.placed.order_id
        self._emit(
            ev.DeliveryRecorded(uid(path), when, order_id, lot_id, quantity, spec.destination)
        )
        self.delivered += quantity
        # The invoice for a lot is paid a month later, net of any advance already paid.
        share = Decimal(100 - spec.advance_pct) / 100
        pay_at = when.replace(hour=_HOURS["pay"]) + _PAY_AFTER
        self._push(pay_at, "pay", quantity * self.price * share)


def balancing(remainder: Decimal) -> tuple[Spec, Spec]:
    """Two USD orders (rate 1, so no rounding) whose values add up to `remainder` exactly."""
    big_price = ((remainder - _FAT_TARGET) / _BIG_QUANTITY).quantize(_PLACES4, ROUND_DOWN)
    fat_price = (remainder - _BIG_QUANTITY * big_price) / _FAT_QUANTITY
    if fat_price != fat_price.quantize(_PLACES4):
        raise AssertionError(f"balancing price {fat_price} needs more than 4 places")
    item = "155mm M795 HE projectile"
    big = Spec(
        "usa-gdots-01",
        date(2023, 6, 9),
        "USA",
        "General Dynamics OTS",
        item,
        155,
        _BIG_QUANTITY,
        str(big_price),
        "USD",
        NATIONAL,
        "USA",
        first_lot_days=60,
        lot_size=10000,
    )
    fat = Spec(
        "usa-gdots-fat",
        date(2023, 6, 14),
        "USA",
        "General Dynamics OTS",
        f"{item}, first-article test lot",
        155,
        _FAT_QUANTITY,
        str(fat_price.quantize(_PLACES4)),
        "USD",
        NATIONAL,
        "USA",
        first_lot_days=30,
        lot_size=_FAT_QUANTITY,
    )
    return big, fat
