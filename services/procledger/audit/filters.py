"""Query filters and the two clocks, parsed and validated once for the CLI and the API alike."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from procledger.domain.projections import DIMENSIONS
from procledger.domain.state import Order, OrderStatus

MAX_TEXT = 200


class FilterError(ValueError):
    """A filter value is invalid; `field` names it (CLI flag or API parameter)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class Clocks:
    """Business time (as_of: occurred_at <= T) and record time (known_at: recorded_at <= T)."""

    as_of: datetime | None = None
    known_at: datetime | None = None

    @property
    def live(self) -> bool:
        """No clock given: the live projections answer."""
        return self.as_of is None and self.known_at is None


@dataclass(frozen=True, slots=True)
class OrderFilter:
    """Which orders a query covers; placed_from inclusive, placed_to exclusive (UTC)."""

    buyer: str | None = None
    caliber_mm: int | None = None
    placed_from: datetime | None = None
    placed_to: datetime | None = None
    status: OrderStatus | None = None

    def matches(self, order: Order) -> bool:
        """The same test the SQL WHERE clause of queries.order_where makes."""
        placed = order.placed_at
        return (
            (self.buyer is None or order.buyer == self.buyer)
            and (self.caliber_mm is None or order.caliber_mm == self.caliber_mm)
            and (self.placed_from is None or placed >= self.placed_from)
            and (self.placed_to is None or placed < self.placed_to)
            and (self.status is None or order.status == self.status)
        )


def text(field: str, value: str | None) -> str | None:
    """A free-text filter: bounded, printable (PostgreSQL refuses NUL in text)."""
    if value is None:
        return None
    if not value or len(value) > MAX_TEXT or not value.isprintable():
        raise FilterError(field, f"must be 1 to {MAX_TEXT} printable characters, got {value!r:.60}")
    return value


def instant(field: str, value: str | None) -> datetime | None:
    """An ISO-8601 timestamp that names its zone (Z or +HH:MM), in UTC."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise FilterError(
            field, f"must be an ISO-8601 timestamp such as 2023-06-15T23:59:59Z, got {value!r:.60}"
        ) from None
    if parsed.utcoffset() is None:
        raise FilterError(field, f"timestamp must include a timezone (Z or +HH:MM): {value!r:.60}")
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise FilterError(field, f"timestamp out of range: {value!r:.60}") from None


def day(field: str, value: str | None) -> date | None:
    """A calendar date YYYY-MM-DD."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise FilterError(field, f"must be a date YYYY-MM-DD, got {value!r:.60}") from None


def _midnight(d: date) -> datetime:
    return datetime.combine(d, time(), tzinfo=UTC)


def order_filter(
    *,
    buyer: str | None = None,
    caliber_mm: int | None = None,
    year: int | None = None,
    placed_from: str | None = None,
    placed_to: str | None = None,
    status: str | None = None,
    names: tuple[str, str, str] = ("from", "to", "year"),
) -> OrderFilter:
    """Validate order filters; dates are UTC days, `to` inclusive; year intersects them."""
    from_name, to_name, year_name = names
    start = day(from_name, placed_from)
    end = day(to_name, placed_to)
    lower = None if start is None else _midnight(start)
    upper = None
    if end is not None:
        if end == date.max:
            raise FilterError(to_name, "date out of range")
        upper = _midnight(end + timedelta(days=1))
    if year is not None:
        if not 1900 <= year <= 9998:
            raise FilterError(year_name, f"must be a year between 1900 and 9998, got {year}")
        y_lo, y_hi = _midnight(date(year, 1, 1)), _midnight(date(year + 1, 1, 1))
        lower = y_lo if lower is None else max(lower, y_lo)
        upper = y_hi if upper is None else min(upper, y_hi)
    if lower is not None and upper is not None and lower >= upper:
        raise FilterError(to_name, "the placement range is empty (from is after to / the year)")
    if caliber_mm is not None and not 1 <= caliber_mm <= 10_000:
        raise FilterError("caliber_mm", f"must be between 1 and 10000, got {caliber_mm}")
    parsed_status = None
    if status is not None:
        try:
            parsed_status = OrderStatus(status.upper())
        except ValueError:
            known = ", ".join(s.value for s in OrderStatus)
            raise FilterError("status", f"must be one of {known}, got {status!r:.60}") from None
    return OrderFilter(text("buyer", buyer), caliber_mm, lower, upper, parsed_status)


def dimensions(field: str, value: str | None) -> tuple[str, ...]:
    """A comma-separated subset of the totals dimensions, in the order given."""
    if value is None or not value.strip():
        return ()
    dims = tuple(d.strip() for d in value.split(","))
    unknown = [d for d in dims if d not in DIMENSIONS]
    if unknown:
        raise FilterError(
            field,
            f"unknown dimension(s) {', '.join(repr(d[:40]) for d in unknown)}; "
            f"known: {', '.join(DIMENSIONS)}",
        )
    if len(set(dims)) != len(dims):
        raise FilterError(field, f"a dimension is repeated: {value!r:.60}")
    return dims
