"""Double-entry postings of an encumbrance-style procurement ledger, derived from each event.

Every order carries two figures per account: the amount in the order currency and the
amount in USD. All USD figures use the order's placement rate, except cash, which moves at
each payment's own rate; FX_DIFFERENCE absorbs the gap so that USD balances too.

Per event (V = order value, D = delivered value, both at the current unit price):

- OrderPlaced: Dr BUDGET_ENCUMBERED / Cr OPEN_COMMITMENTS for V (the budget is reserved).
- OrderAmended: the open commitment V - D changes by its delta (Dr BUDGET_ENCUMBERED /
  Cr OPEN_COMMITMENTS, sides reversed when it shrinks). A new unit price applies to the
  whole order, goods already received included, so D is revalued too: its delta goes
  Dr GOODS_RECEIVED / Cr SUPPLIER_PAYABLE (reversed when the price falls).
- OrderCancelled: the open commitment V - D is released: Dr OPEN_COMMITMENTS /
  Cr BUDGET_ENCUMBERED.
- DeliveryRecorded: the delivery's value (cumulative rounding: the delta of D) consumes
  commitment, Dr OPEN_COMMITMENTS / Cr BUDGET_ENCUMBERED, and becomes a liability,
  Dr GOODS_RECEIVED / Cr SUPPLIER_PAYABLE.
- PaymentRecorded of amount A: Dr SUPPLIER_PAYABLE (A; USD at the placement rate) /
  Cr CASH (A; USD at the payment's rate); the USD gap goes to FX_DIFFERENCE (Dr for a
  loss, Cr for a gain) with a zero order-currency amount.
- StockpileTargetSet moves no value: no postings.

Resulting balances per order (Dr minus Cr), in the order currency and in USD alike:
BUDGET_ENCUMBERED = V - D = -OPEN_COMMITMENTS (zero once fulfilled or cancelled),
GOODS_RECEIVED = D, CASH = -paid (USD: -paid_usd), FX_DIFFERENCE = 0 in the order currency,
SUPPLIER_PAYABLE = paid - D (USD: paid_usd - FX_DIFFERENCE - delivered_value_usd).
Each event's postings balance: debits equal credits, in the order currency and in USD.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final, Literal

from procledger.domain.values import immutable

BUDGET_ENCUMBERED: Final = "BUDGET_ENCUMBERED"
OPEN_COMMITMENTS: Final = "OPEN_COMMITMENTS"
GOODS_RECEIVED: Final = "GOODS_RECEIVED"
SUPPLIER_PAYABLE: Final = "SUPPLIER_PAYABLE"
CASH: Final = "CASH"
FX_DIFFERENCE: Final = "FX_DIFFERENCE"

CHART_OF_ACCOUNTS: Final[dict[str, str]] = {
    BUDGET_ENCUMBERED: "Dr: budget reserved for value ordered but not yet delivered",
    OPEN_COMMITMENTS: "Cr: obligation to suppliers for goods ordered but not yet delivered",
    GOODS_RECEIVED: "Dr: value of goods delivered (the expenditure)",
    SUPPLIER_PAYABLE: "Cr on delivery, Dr on payment: owed to suppliers (Dr balance = prepaid)",
    CASH: "Cr on payment: money paid out, in USD at each payment's own rate",
    FX_DIFFERENCE: "USD only: payment at its own rate minus payable at the placement rate",
}

Side = Literal["D", "C"]
ZERO = Decimal(0)


@immutable
class Posting:
    """One leg of a balanced entry; amounts are non-negative cents, the side gives the sign."""

    event_id: str
    order_id: str
    account: str
    side: Side
    amount: Decimal  # order currency
    currency: str
    amount_usd: Decimal


@immutable
class EntryRef:
    """What every posting of one event shares: the event, its order and the order currency."""

    event_id: str
    order_id: str
    currency: str

    def leg(self, account: str, side: Side, amount: Decimal, amount_usd: Decimal) -> Posting:
        """One posting of this entry."""
        return Posting(
            self.event_id, self.order_id, account, side, amount, self.currency, amount_usd
        )


def transfer(
    ref: EntryRef, debit: str, credit: str, amount: Decimal, amount_usd: Decimal
) -> list[Posting]:
    """Dr `debit` / Cr `credit` for signed amounts: a negative amount swaps the sides.

    Both legs are rounded separately, so a tiny change can round to opposite signs in the
    two currencies; then each currency gets its own pair, keeping every amount >= 0.
    """
    if amount.is_zero() and amount_usd.is_zero():
        return []
    if amount < 0 or amount_usd < 0:
        if amount > 0 or amount_usd > 0:
            return [
                *transfer(ref, debit, credit, amount, ZERO),
                *transfer(ref, debit, credit, ZERO, amount_usd),
            ]
        debit, credit, amount, amount_usd = credit, debit, -amount, -amount_usd
    return [ref.leg(debit, "D", amount, amount_usd), ref.leg(credit, "C", amount, amount_usd)]


def commitment_change(ref: EntryRef, amount: Decimal, amount_usd: Decimal) -> list[Posting]:
    """The open commitment grows (placement, amendment) or shrinks (negative amounts)."""
    return transfer(ref, BUDGET_ENCUMBERED, OPEN_COMMITMENTS, amount, amount_usd)


def receipt_change(ref: EntryRef, amount: Decimal, amount_usd: Decimal) -> list[Posting]:
    """Goods received become owed to the supplier (negative: a price cut revalues them)."""
    return transfer(ref, GOODS_RECEIVED, SUPPLIER_PAYABLE, amount, amount_usd)


def delivery(ref: EntryRef, amount: Decimal, amount_usd: Decimal) -> list[Posting]:
    """A delivery consumes commitment and creates a payable for the same value."""
    return [
        *commitment_change(ref, -amount, -amount_usd),
        *receipt_change(ref, amount, amount_usd),
    ]


def payment(
    ref: EntryRef, amount: Decimal, usd_at_placement: Decimal, usd_at_payment: Decimal
) -> list[Posting]:
    """Settle the payable at the placement rate, pay cash at the payment's rate, book the FX gap."""
    postings = [
        ref.leg(SUPPLIER_PAYABLE, "D", amount, usd_at_placement),
        ref.leg(CASH, "C", amount, usd_at_payment),
    ]
    gap = usd_at_payment - usd_at_placement
    if gap > 0:  # more dollars went out than were booked: a loss
        postings.append(ref.leg(FX_DIFFERENCE, "D", ZERO, gap))
    elif gap < 0:
        postings.append(ref.leg(FX_DIFFERENCE, "C", ZERO, -gap))
    return postings
