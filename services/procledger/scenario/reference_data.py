"""Reference data for scenarios: suppliers, agencies, NSNs and approx. 2023 FX rates."""

from __future__ import annotations

import zlib
from datetime import date
from decimal import Decimal

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

# USD per one unit of currency, approx. monthly averages of 2023 (index 0 = January).
_MONTHLY_2023: dict[str, tuple[str, ...]] = {
    "USD": ("1",) * 12,
    "EUR": ("1.0785", "1.0713", "1.0710", "1.0968", "1.0872", "1.0844",
            "1.1058", "1.0909", "1.0680", "1.0563", "1.0812", "1.0905"),
    "GBP": ("1.2230", "1.2124", "1.2171", "1.2434", "1.2428", "1.2574",
            "1.2855", "1.2704", "1.2369", "1.2136", "1.2447", "1.2673"),
    "PLN": ("0.2298", "0.2256", "0.2285", "0.2364", "0.2394", "0.2430",
            "0.2505", "0.2443", "0.2345", "0.2349", "0.2475", "0.2514"),
    "NOK": ("0.1004", "0.0985", "0.0948", "0.0949", "0.0929", "0.0926",
            "0.0976", "0.0946", "0.0932", "0.0912", "0.0920", "0.0950"),
    "CAD": ("0.7454", "0.7431", "0.7335", "0.7413", "0.7388", "0.7519",
            "0.7565", "0.7406", "0.7401", "0.7302", "0.7299", "0.7436"),
    "DKK": ("0.1449", "0.1439", "0.1439", "0.1473", "0.1460", "0.1456",
            "0.1485", "0.1464", "0.1433", "0.1416", "0.1451", "0.1463"),
    "CZK": ("0.04510", "0.04520", "0.04530", "0.04670", "0.04590", "0.04570",
            "0.04620", "0.04500", "0.04370", "0.04300", "0.04420", "0.04460"),
    "RON": ("0.2193", "0.2176", "0.2174", "0.2222", "0.2196", "0.2185",
            "0.2240", "0.2211", "0.2148", "0.2125", "0.2174", "0.2193"),
    "HUF": ("0.002720", "0.002800", "0.002760", "0.002920", "0.002900", "0.002920",
            "0.002870", "0.002840", "0.002760", "0.002740", "0.002850", "0.002870"),
}  # fmt: skip
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
