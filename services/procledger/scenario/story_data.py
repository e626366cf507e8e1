"""The 2023 155mm story as data: order specs and stockpile targets (figures approx.)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from procledger.domain.events import Purpose

# The article's figure: 155mm ordered by NATO members from 1 January to mid-June 2023.
STORY_TOTAL_USD = Decimal("1000000000.00")
STORY_CALIBER = 155
WINDOW_START = datetime(2023, 1, 1, tzinfo=UTC)
WINDOW_END = datetime(2023, 6, 15, 23, 59, 59, tzinfo=UTC)

NATIONAL = Purpose.NATIONAL_STOCKPILE
UKRAINE = Purpose.UKRAINE_SUPPORT
NATO = Purpose.NATO_COMMON_FUNDING

FEBRUARY_AUTHORITY = "NATO Defence Ministers' Meeting, Brussels, 14-15 February 2023"
JUNE_AUTHORITY = "NATO Defence Ministers' Meeting, Brussels, 16 June 2023"
FEBRUARY_TARGETS_DAY = date(2023, 2, 15)
JUNE_TARGETS_DAY = date(2023, 6, 16)


@dataclass(frozen=True, slots=True)
class Amend:
    """A renegotiation on a given day: new total quantity and/or new unit price."""

    day: date
    quantity: int | None
    unit_price: str | None
    reason: str


@dataclass(frozen=True, slots=True)
class Spec:
    """One order and the shape of its life; story.py expands it into events."""

    key: str
    placed: date
    buyer: str
    supplier: str
    item: str
    caliber: int | None
    quantity: int
    unit_price: str
    currency: str
    purpose: Purpose
    destination: str | None
    supplier_country: str | None = None  # None: the supplier's home country
    first_lot_days: int = 45
    lot_every_days: int = 30
    lot_size: int = 0  # 0: a fifth of the quantity
    max_lots: int = 99
    advance_pct: int = 0  # advance payment as a percentage of the order value
    amendments: tuple[Amend, ...] = ()
    cancel: tuple[date, str] | None = None


D = date
M795 = "155mm M795 HE projectile"

# The $1bn set is every 155mm order placed 1 Jan - 15 Jun 2023; its amendments and
# cancellations all happen before 16 June so that the figure is final by mid-June. Two
# balancing USD orders (see story.py) top it up to exactly USD 1,000,000,000.00.
ORDERS: tuple[Spec, ...] = (
    # A December 2022 order: the "so far this year" filter must leave it out.
    Spec("deu-rh-2022", D(2022, 12, 19), "DEU", "Rheinmetall", "155mm HE DM121 shell", 155,
         10000, "3950.00", "EUR", NATIONAL, "DEU", first_lot_days=60, lot_size=2500),
    Spec("deu-rh-01", D(2023, 1, 16), "DEU", "Rheinmetall", "155mm HE DM121 shell", 155,
         20000, "4150.00", "EUR", NATIONAL, "DEU", first_lot_days=90, lot_size=4000,
         advance_pct=20,
         amendments=(Amend(D(2023, 4, 3), 26000, None, "Call-off extended under framework"),)),
    Spec("gbr-bae-01", D(2023, 1, 24), "GBR", "BAE Systems", "155mm L15A1 HE shell", 155,
         12000, "3650.00", "GBP", UKRAINE, "UKR", first_lot_days=75, lot_size=2000,
         amendments=(Amend(D(2023, 3, 10), None, "3790.00", "Steel and energy surcharge"),)),
    Spec("pol-mesko-01", D(2023, 2, 6), "POL", "Mesko", "155mm OF HE-FRAG shell for AHS Krab",
         155, 15000, "24800.00", "PLN", NATIONAL, "POL", first_lot_days=120, lot_size=2500),
    Spec("nor-nammo-01", D(2023, 2, 13), "NOR", "Nammo", "155mm HE ER shell", 155,
         6000, "52000.00", "NOK", UKRAINE, "UKR", first_lot_days=40, lot_size=1500),
    Spec("nld-nammo-01", D(2023, 2, 20), "NLD", "Nammo", "155mm HE shell", 155,
         8000, "4480.00", "EUR", UKRAINE, "UKR", supplier_country="FIN", lot_size=2000,
         advance_pct=10),
    Spec("fra-knds-01", D(2023, 2, 27), "FRA", "KNDS/Nexter Munitions",
         "155mm LU 211 HE shell", 155, 14000, "4390.00", "EUR", UKRAINE, "UKR",
         first_lot_days=60, lot_size=2000,
         amendments=(Amend(D(2023, 4, 24), 15500, "4425.50", "Extra lot, revised price"),)),
    Spec("can-gdots-01", D(2023, 3, 6), "CAN", "General Dynamics OTS", M795, 155,
         7500, "7350.00", "CAD", UKRAINE, "UKR", supplier_country="CAN", first_lot_days=90,
         lot_size=1500),
    Spec("ita-rh-01", D(2023, 3, 9), "ITA", "Rheinmetall", "155mm HE shell", 155,
         6000, "4275.00", "EUR", NATIONAL, "ITA", supplier_country="ITA", first_lot_days=100,
         lot_size=1000),
    Spec("hun-rh-01", D(2023, 3, 15), "HUN", "Rheinmetall", "155mm HE shell", 155,
         2000, "1550000.00", "HUF", NATIONAL, "HUN", first_lot_days=30, lot_size=500,
         cancel=(D(2023, 6, 2), "Budget reallocation; undelivered remainder released")),
    Spec("esp-expal-01", D(2023, 3, 21), "ESP", "Rheinmetall Expal Munitions",
         "155mm ER02A1 HE shell", 155, 5000, "3980.00", "EUR", NATIONAL, "ESP",
         first_lot_days=120, lot_size=1000),
    Spec("dnk-nammo-01", D(2023, 3, 23), "DNK", "Nammo", "155mm HE shell", 155,
         5000, "31500.00", "DKK", UKRAINE, "UKR", first_lot_days=30, lot_size=1000,
         amendments=(Amend(D(2023, 5, 22), 6500, None, "Quantity raised after donation pledge"),)),
    Spec("cze-msm-01", D(2023, 3, 27), "CZE", "MSM Group", "155mm HE ERFB shell", 155,
         9000, "98000.00", "CZK", UKRAINE, "UKR", first_lot_days=50, lot_size=1500),
    Spec("svk-msm-01", D(2023, 4, 4), "SVK", "MSM Group", "155mm HE ERFB shell", 155,
         4000, "3890.00", "EUR", NATIONAL, "SVK", first_lot_days=60, lot_size=1000),
    Spec("rou-rh-01", D(2023, 4, 12), "ROU", "Rheinmetall", "155mm HE DM121 shell", 155,
         3000, "21500.00", "RON", NATIONAL, "ROU", first_lot_days=150, lot_size=1000),
    Spec("est-knds-01", D(2023, 4, 18), "EST", "KNDS/Nexter Munitions",
         "155mm LU 211 HE shell", 155, 3000, "4420.00", "EUR", UKRAINE, "UKR",
         first_lot_days=70, lot_size=750),
    Spec("lva-nammo-01", D(2023, 4, 25), "LVA", "Nammo", "155mm HE shell", 155,
         2000, "4500.00", "EUR", NATIONAL, "LVA", first_lot_days=90, lot_size=500),
    Spec("ltu-nammo-01", D(2023, 5, 2), "LTU", "Nammo", "155mm HE shell", 155,
         2500, "4460.00", "EUR", NATIONAL, "LTU", supplier_country="FIN", first_lot_days=90,
         lot_size=500),
    Spec("bel-knds-01", D(2023, 5, 8), "BEL", "KNDS/Nexter Munitions", "155mm HE shell", 155,
         3500, "4350.00", "EUR", UKRAINE, "UKR", first_lot_days=45, lot_size=700),
    Spec("fin-nammo-01", D(2023, 5, 11), "FIN", "Nammo", "155mm HE shell", 155,
         5000, "4210.00", "EUR", NATIONAL, "FIN", supplier_country="FIN", first_lot_days=120,
         lot_size=1000),
    Spec("pol-hanwha-01", D(2023, 5, 23), "POL", "Hanwha Aerospace", "155mm K307 HE shell",
         155, 10000, "4900.00", "USD", NATIONAL, "POL", first_lot_days=120, lot_size=2500,
         advance_pct=15),
    Spec("prt-rh-01", D(2023, 5, 29), "PRT", "Rheinmetall", "155mm HE shell", 155,
         1500, "4300.00", "EUR", UKRAINE, "UKR", first_lot_days=40, lot_size=500),
    Spec("lux-nspa-01", D(2023, 6, 5), "LUX", "Nammo",
         "155mm HE shell, NSPA multinational framework", 155, 4000, "4600.00", "EUR", NATO,
         "UKR", first_lot_days=60, lot_size=1000),
    # Other calibres and items, before and after mid-June.
    Spec("deu-rh-35", D(2023, 2, 8), "DEU", "Rheinmetall", "35x228mm FAPDS round for Gepard",
         35, 300000, "98.50", "EUR", UKRAINE, "UKR", first_lot_days=100, lot_size=50000),
    Spec("bel-knds-105", D(2023, 2, 16), "BEL", "KNDS/Nexter Munitions",
         "105mm HE shell (Mecar)", 105, 6000, "1450.00", "EUR", UKRAINE, "UKR",
         supplier_country="BEL", first_lot_days=45, lot_size=1500),
    Spec("fin-nammo-120m", D(2023, 3, 1), "FIN", "Nammo", "120mm HE mortar bomb", 120,
         10000, "1300.00", "EUR", NATIONAL, "FIN", supplier_country="FIN", lot_size=2500),
    Spec("deu-rh-barrels", D(2023, 3, 13), "DEU", "Rheinmetall",
         "PzH 2000 155mm L52 spare barrels", None, 18, "480000.00", "EUR", UKRAINE, "UKR",
         first_lot_days=120, lot_size=6),
    Spec("est-nammo-81", D(2023, 4, 20), "EST", "Nammo", "81mm HE mortar bomb", 81,
         12000, "620.00", "EUR", NATIONAL, "EST", lot_size=3000),
    Spec("rou-diehl-fuze", D(2023, 5, 4), "ROU", "Diehl", "DM84 artillery time fuze", None,
         10000, "780.00", "EUR", NATIONAL, "ROU", first_lot_days=60, lot_size=2500),
    Spec("nor-nammo-30", D(2023, 5, 17), "NOR", "Nammo", "30x173mm APFSDS-T for CV9030", 30,
         50000, "1050.00", "NOK", NATIONAL, "NOR", lot_size=10000),
    Spec("pol-mesko-120t", D(2023, 6, 1), "POL", "Mesko", "120mm APFSDS-T tank round", 120,
         4000, "38000.00", "PLN", NATIONAL, "POL", first_lot_days=90, lot_size=1000),
    # After the June ministerial and the Vilnius summit (11-12 July 2023).
    Spec("usa-gdots-02", D(2023, 6, 20), "USA", "General Dynamics OTS", M795, 155,
         30000, "5450.00", "USD", UKRAINE, "UKR", first_lot_days=60, lot_size=6000),
    Spec("deu-rh-02", D(2023, 7, 20), "DEU", "Rheinmetall",
         "155mm HE DM121 shell, framework call-off", 155, 40000, "4600.00", "EUR", NATIONAL,
         "DEU", first_lot_days=75, lot_size=8000,
         amendments=(Amend(D(2023, 9, 18), 45000, None, "Call-off raised after Vilnius"),)),
    Spec("est-nammo-02", D(2023, 8, 10), "EST", "Nammo", "155mm HE shell", 155,
         5000, "4720.00", "EUR", UKRAINE, "UKR", first_lot_days=60, lot_size=1000),
    Spec("gbr-bae-105", D(2023, 8, 14), "GBR", "BAE Systems", "105mm L118 HE shell", 105,
         8000, "1180.00", "GBP", UKRAINE, "UKR", first_lot_days=30, lot_size=2000,
         cancel=(D(2023, 11, 6), "Requirement superseded by 155mm order")),
    Spec("gbr-bae-02", D(2023, 8, 29), "GBR", "BAE Systems", "155mm L15A1 HE shell", 155,
         15000, "4100.00", "GBP", NATIONAL, "GBR", first_lot_days=90, lot_size=3000),
    Spec("lux-nspa-02", D(2023, 9, 12), "LUX", "KNDS/Nexter Munitions",
         "155mm HE shell, NSPA multinational framework", 155, 6000, "4950.00", "EUR", NATO,
         "UKR", first_lot_days=75, lot_size=1500),
    Spec("pol-mesko-02", D(2023, 10, 2), "POL", "Mesko", "155mm OF HE-FRAG shell", 155,
         20000, "27500.00", "PLN", NATIONAL, "POL", first_lot_days=60, lot_size=4000),
    Spec("can-gdots-02", D(2023, 11, 14), "CAN", "General Dynamics OTS", M795, 155,
         6000, "7900.00", "CAD", NATIONAL, "CAN", supplier_country="CAN", first_lot_days=40,
         lot_size=1500),
)  # fmt: skip

# Stockpile targets, 155mm unless noted: (country, calibre, February target, June target).
TARGETS: tuple[tuple[str, int, int, int], ...] = (
    ("DEU", 155, 180000, 320000),
    ("FRA", 155, 120000, 210000),
    ("GBR", 155, 110000, 200000),
    ("USA", 155, 600000, 1000000),
    ("POL", 155, 140000, 260000),
    ("ITA", 155, 70000, 120000),
    ("NLD", 155, 40000, 75000),
    ("NOR", 155, 30000, 55000),
    ("CAN", 155, 45000, 80000),
    ("ESP", 155, 50000, 90000),
    ("DNK", 155, 20000, 38000),
    ("EST", 155, 15000, 30000),
    ("LVA", 155, 8000, 16000),
    ("LTU", 155, 12000, 24000),
    ("FIN", 155, 90000, 150000),
    ("FIN", 120, 60000, 90000),
    ("POL", 120, 50000, 80000),
    ("BEL", 105, 20000, 30000),
)  # fmt: skip
