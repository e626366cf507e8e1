"""The synthetic generator's catalogue: items, price ranges, currencies and purposes."""

from __future__ import annotations

from procledger.domain.events import Purpose
from procledger.scenario.reference_data import SUPPLIERS, monthly_rates

# (description, calibre, USD price range in cents, quantity range); 155mm is listed twice
# so that it dominates the mix as it does in the real order books.
ITEMS: tuple[tuple[str, int | None, int, int, int, int], ...] = (
    ("155mm HE shell", 155, 300000, 850000, 500, 20000),
    ("155mm HE ER shell", 155, 450000, 850000, 500, 10000),
    ("105mm HE shell", 105, 100000, 250000, 500, 10000),
    ("120mm HE mortar bomb", 120, 90000, 200000, 500, 10000),
    ("81mm HE mortar bomb", 81, 40000, 90000, 1000, 20000),
    ("30x173mm APFSDS-T round", 30, 5000, 15000, 5000, 100000),
    ("35x228mm FAPDS round", 35, 6000, 14000, 5000, 100000),
    ("120mm APFSDS-T tank round", 120, 600000, 1000000, 200, 5000),
    ("Artillery spare barrel", None, 30000000, 60000000, 1, 20),
)
# Local currency units per USD, rounded: prices are drawn in USD cents and scaled.
SCALE = {"USD": 1, "EUR": 1, "GBP": 1, "CAD": 1, "PLN": 4, "NOK": 10, "DKK": 7,
          "CZK": 22, "RON": 5, "HUF": 350}  # fmt: skip
HOME = {"GBR": "GBP", "POL": "PLN", "NOR": "NOK", "CAN": "CAD", "DNK": "DKK", "CZE": "CZK",
         "ROU": "RON", "HUN": "HUF", "USA": "USD", "ALB": "USD", "BGR": "EUR", "ISL": "USD",
         "MKD": "EUR", "MNE": "EUR", "TUR": "USD"}  # fmt: skip
RATES = {currency: monthly_rates(currency) for currency in SCALE}
SUPPLIER_PAIRS = tuple(SUPPLIERS.items())
PURPOSES = (Purpose.NATIONAL_STOCKPILE,) * 5 + (
    Purpose.UKRAINE_SUPPORT,
    Purpose.UKRAINE_SUPPORT,
    Purpose.UKRAINE_SUPPORT,
    Purpose.NATO_COMMON_FUNDING,
    Purpose.OTHER,
)
LOT_DIVISORS = (2, 3, 4, 5, 8)
