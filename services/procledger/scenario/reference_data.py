"""Reference data for scenarios: suppliers, agencies, NSNs and approx. 2023 FX rates."""

from __future__ import annotations

import csv
import zlib
from datetime import date
from decimal import Decimal
from importlib import resources

# Maker -> home country (approx.; some makers produce in several countries).
SUPPLIERS: dict[str, str] = {
    "Rheinmetall": "DEU",
    "Rheinmetall Expal Munitions": "ESP",
    "Nammo": "NOR",
    "BAE Systems": "GBR",
    "KNDS/Nexter Munitions": "FRA",
    "General Dynamics OTS": "USA",
    "Mesko": "POL",
    "Diehl": "DEU",
    "MSM Group": "SVK",
    "Hanwha Aerospace": "KOR",
}

# Procurement agency prefixes for contract references (defaults to MOD-<country>).
AGENCIES: dict[str, str] = {
    "DEU": "BAAINBw",
    "GBR": "DE&S",
    "USA": "JPEO-A&A",
    "FRA": "DGA",
    "POL": "AU-MON",
    "NOR": "FMA",
    "NLD": "DMO",
    "CAN": "DND",
    "ITA": "SGD-DNA",
    "FIN": "FDF-LOG",
    "DNK": "DALO",
}

# NATO Codification Bureau codes used in NSNs (approx.; 99 is the UK, 00/01 the USA).
NCB_CODES: dict[str, str] = {
    "DEU": "12",
    "BEL": "13",
    "FRA": "14",
    "ITA": "15",
    "NLD": "17",
    "CAN": "21",
    "DNK": "22",
    "NOR": "25",
    "ESP": "33",
    "POL": "51",
    "SVK": "56",
    "KOR": "90",
    "GBR": "99",
    "USA": "01",
}


def _monthly_2023() -> dict[str, tuple[str, ...]]:
    """USD per one unit of currency, approx. monthly averages of 2023 (index 0 = January)."""
    text = resources.files(__package__).joinpath("fx_2023.csv").read_text(encoding="ascii")
    reader = csv.reader(line for line in text.splitlines() if not line.startswith("#"))
    header = next(reader)
    table = {row[0]: tuple(row[1:]) for row in reader}
    if len(header) != 13 or any(len(rates) != 12 for rates in table.values()):
        raise ValueError("fx_2023.csv: each row needs a currency and twelve monthly rates")
    return table


# A data file, so that the table is read and updated as a table (with its own diff).
_MONTHLY_2023 = _monthly_2023()
# The one pre-2023 order in the story was placed in December 2022.
_DECEMBER_2022: dict[str, str] = {"EUR": "1.0600", "USD": "1"}

CURRENCIES: tuple[str, ...] = tuple(_MONTHLY_2023)


def usd_rate(currency: str, day: date) -> Decimal:
    """Approx. USD per unit of `currency` in the month of `day` (2023, or December 2022)."""
    if day.year == 2022 and day.month == 12:
        return Decimal(_DECEMBER_2022[currency])
    if day.year != 2023:
        raise ValueError(f"no rate table for {day:%Y-%m}")
    return Decimal(_MONTHLY_2023[currency][day.month - 1])


def monthly_rates(currency: str) -> tuple[Decimal, ...]:
    """All twelve 2023 monthly rates of a currency (the synthetic generator picks among them)."""
    return tuple(Decimal(r) for r in _MONTHLY_2023[currency])


def supply_class(caliber_mm: int | None) -> str:
    """The NSN federal supply class of an item by calibre (1025 = gun parts over 150mm)."""
    if caliber_mm is None:
        return "1025"
    if caliber_mm > 125:
        return "1320"
    if caliber_mm >= 75:
        return "1315"
    if caliber_mm > 30:
        return "1310"
    return "1305"


def nsn(key: str, caliber_mm: int | None, country: str) -> str:
    """A stable, well-formed NSN for an item; crc32 (not hash()) keeps it the same every run."""
    digits = f"{zlib.crc32(key.encode()):010d}"[-7:]
    return f"{supply_class(caliber_mm)}-{NCB_CODES.get(country, '00')}-{digits[:3]}-{digits[3:]}"
