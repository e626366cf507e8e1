"""The ledger's business rules, one exception per rule, each with a stable rejection code."""

from __future__ import annotations


# The name is the product's vocabulary (a rule violation is not a program error).
class LedgerRuleViolation(Exception):
    """An event breaks a ledger rule: it is rejected (journaled as a rejection), never applied."""

    code: str = "LEDGER_RULE_VIOLATION"


class DuplicateEvent(LedgerRuleViolation):
    """The event id was already applied: a producer retry or a replay, not a new fact."""

    code = "DUPLICATE_EVENT"


class DuplicateOrder(LedgerRuleViolation):
    """An OrderPlaced for an order id that already exists."""

    code = "DUPLICATE_ORDER"


class UnknownOrder(LedgerRuleViolation):
    """An event refers to an order that was never placed."""

    code = "UNKNOWN_ORDER"


class OrderClosed(LedgerRuleViolation):
    """An amendment, cancellation or delivery for an order that is fulfilled or cancelled."""

    code = "ORDER_CLOSED"


class InvalidAmendment(LedgerRuleViolation):
    """An amendment that changes neither quantity nor price, or sets one to zero or less."""

    code = "INVALID_AMENDMENT"


class QuantityBelowDelivered(LedgerRuleViolation):
    """An amendment that would commit fewer units than have already been delivered."""

    code = "QUANTITY_BELOW_DELIVERED"


class AmendmentBelowPaid(LedgerRuleViolation):
    """An amendment that would bring the order's value below what is already paid."""

    code = "VALUE_BELOW_PAID"


class OverDelivery(LedgerRuleViolation):
    """A delivery that would bring the delivered quantity above the committed quantity."""

    code = "OVER_DELIVERY"


class DuplicateDelivery(LedgerRuleViolation):
    """A delivery id already recorded on the same order."""

    code = "DUPLICATE_DELIVERY"


class CurrencyMismatch(LedgerRuleViolation):
    """A payment in a currency other than the order's."""

    code = "CURRENCY_MISMATCH"


class OverPayment(LedgerRuleViolation):
    """A payment that would bring the amount paid above the order's value."""

    code = "OVER_PAYMENT"


class DuplicatePayment(LedgerRuleViolation):
    """A payment id already recorded on the same order."""

    code = "DUPLICATE_PAYMENT"


RULE_VIOLATIONS: tuple[type[LedgerRuleViolation], ...] = (
    DuplicateEvent,
    DuplicateOrder,
    UnknownOrder,
    OrderClosed,
    InvalidAmendment,
    QuantityBelowDelivered,
    AmendmentBelowPaid,
    OverDelivery,
    DuplicateDelivery,
    CurrencyMismatch,
    OverPayment,
    DuplicatePayment,
)

# Codes raised before the fold, by the codec and the consumer: the record never became a
# field-valid event. They share the rejections table (reason_code) with the rule codes.
INVALID_EVENT = "INVALID_EVENT"
UNDECODABLE = "UNDECODABLE"
UNKNOWN_SCHEMA = "UNKNOWN_SCHEMA"
WRONG_FRAMING = "WRONG_FRAMING"

REJECTION_CODES: tuple[str, ...] = (
    *(cls.code for cls in RULE_VIOLATIONS),
    INVALID_EVENT,
    UNDECODABLE,
    UNKNOWN_SCHEMA,
    WRONG_FRAMING,
)
