"""The "Procurement" dashboard: who ordered what, by business month too, and stockpiles."""

from __future__ import annotations

from procledger_dev.ops.grafana import Dashboard, Panel, Target, Variable

HEADLINE_USD = 1e9  # the June 2023 headline: USD 1bn of 155mm shells ordered in a year
L = "procledger_ledger_"
# Every consumer reports the same business gauges (each reads the shared ledger), so they are
# combined with max by their labels, never summed.
BUYER = "max by (buyer, caliber_mm)"
COUNTRY = "max by (country, caliber_mm)"
MONTH = "max by (month, caliber_mm)"
B155 = 'buyer=~"$buyer", caliber_mm="155"'


def procurement() -> Dashboard:
    usd = "currencyUSD"
    by_buyer = 'buyer=~"$buyer", caliber_mm=~"$caliber"'
    by_country = 'country=~"$country", caliber_mm=~"$caliber"'
    return Dashboard(
        uid="procledger-procurement",
        title="Procurement",
        description="Who ordered what, how much arrived, and stockpile targets.",
        variables=(
            Variable("buyer", "Buyer", f"{L}committed_value_usd", "buyer"),
            Variable("caliber", "Calibre (mm)", f"{L}committed_value_usd", "caliber_mm"),
            Variable("country", "Stockpile country", f"{L}stockpile_target_quantity", "country"),
        ),
        panels=(
            Panel(
                "155mm ordered, year to date",
                "stat",
                (Target(f"max({L}ordered_value_155mm_ytd_usd)"),),
                unit=usd,
                width=6,
                thresholds=((None, "orange"), (HEADLINE_USD, "green")),
                description="Green from the USD 1bn headline on (business year of the "
                "latest 155mm order)",
            ),
            Panel(
                "Business clock: latest 155mm order placed",
                "stat",
                (Target(f"max({L}ordered_value_155mm_ytd_as_of_seconds) * 1000"),),
                unit="dateTimeAsIso",
                width=6,
                description="The business date the year to date runs up to (the order's "
                "placed_at), not the time the ledger recorded it",
            ),
            Panel(
                "Committed value",
                "stat",
                (Target(f"sum({BUYER} ({L}committed_value_usd{{{by_buyer}}}))"),),
                unit=usd,
                width=6,
                description="Of the buyers and calibres selected above",
            ),
            Panel(
                "155mm delivered share",
                "stat",
                (
                    Target(
                        f"sum({BUYER} ({L}delivered_quantity{{{B155}}})) / "
                        f"sum({BUYER} ({L}committed_quantity{{{B155}}}))"
                    ),
                ),
                unit="percentunit",
                width=6,
                decimals=1,
            ),
            Panel(
                "155mm ordered by business month, and running total",
                "barchart",
                (
                    Target(
                        f"sum by (month) ({MONTH} ({L}committed_value_by_month_usd"
                        '{caliber_mm="155"}))',
                        instant=True,
                    ),
                ),
                unit=usd,
                height=10,
                x_field="month",
                cumulative=True,
                thresholds=((None, "orange"), (HEADLINE_USD, "green")),
                description="By the month orders were placed (business time, UTC), whatever "
                "the ledger recorded them; the line is the USD 1bn headline",
            ),
            Panel(
                "Value ordered by business month",
                "barchart",
                (
                    Target(
                        f"sum by (month) ({MONTH} ({L}committed_value_by_month_usd"
                        '{caliber_mm=~"$caliber"}))',
                        instant=True,
                    ),
                ),
                unit=usd,
                height=10,
                x_field="month",
                description="Committed value of the selected calibres by the month orders "
                "were placed (business time, UTC)",
            ),
            Panel(
                "Value ordered by buyer and calibre",
                "bargauge",
                (
                    Target(
                        f"sort_desc({BUYER} ({L}committed_value_usd{{{by_buyer}}}))",
                        "{{buyer}} {{caliber_mm}}mm",
                        instant=True,
                    ),
                ),
                unit=usd,
                height=12,
            ),
            Panel(
                "Ordered versus delivered by buyer and calibre",
                "table",
                (
                    Target(f"{BUYER} ({L}committed_quantity{{{by_buyer}}})", instant=True),
                    Target(f"{BUYER} ({L}delivered_quantity{{{by_buyer}}})", instant=True),
                ),
                height=12,
                description="Quantity ordered (A) and delivered (B)",
            ),
            Panel(
                "Committed value by calibre, by record time (wall clock)",
                "timeseries",
                (
                    Target(
                        f"sum by (caliber_mm) ({BUYER} ({L}committed_value_usd{{{by_buyer}}}))",
                        "{{caliber_mm}}mm",
                    ),
                ),
                unit=usd,
                description="What the ledger held at each moment of the time picker: when the "
                "ledger learnt of orders, not when they were placed (see the business-month "
                "panels for that)",
            ),
            Panel(
                "Stockpile gap by country and calibre",
                "bargauge",
                (
                    Target(
                        f"sort_desc({COUNTRY} ({L}stockpile_gap_quantity{{{by_country}}}))",
                        "{{country}} {{caliber_mm}}mm",
                        instant=True,
                    ),
                ),
                description="Target minus holdings (delivered national-stockpile orders)",
            ),
            Panel(
                "Stockpile targets versus holdings",
                "table",
                (
                    Target(
                        f"{COUNTRY} ({L}stockpile_target_quantity{{{by_country}}})", instant=True
                    ),
                    Target(
                        f"{COUNTRY} ({L}stockpile_holdings_quantity{{{by_country}}})", instant=True
                    ),
                    Target(f"{COUNTRY} ({L}stockpile_gap_quantity{{{by_country}}})", instant=True),
                ),
                width=24,
                height=10,
                description="Target (A), holdings (B) and gap (C)",
            ),
        ),
    )
