"""Reference code sets: ISO 3166-1 alpha-3 countries, ISO 4217 currencies, NATO members."""

from __future__ import annotations

from importlib import resources

# The story's headline calibre (155mm artillery shells): charts and metrics single it out.
HEADLINE_CALIBER = 155


def _codes(name: str) -> frozenset[str]:
    """The codes in a package data file: whitespace-separated, `#` starts a comment line."""
    text = resources.files(__package__).joinpath(name).read_text(encoding="ascii")
    return frozenset(
        code for line in text.splitlines() if not line.startswith("#") for code in line.split()
    )


# Codes still in List One during 2023 but withdrawn since, kept so that events dated in 2023
# (the story's year) stay valid: Bulgarian lev (euro from 2026), Netherlands Antillean guilder
# (replaced by XCG), old Sierra Leonean leone (replaced by SLE), Zimbabwe dollar (by ZWG).
_CURRENCIES_WITHDRAWN_SINCE_2023 = "BGN ANG SLL ZWL"

# The standards' lists are data files beside this module, easy to compare with the source.
COUNTRIES_ALPHA3: frozenset[str] = _codes("iso3166_alpha3.txt")
CURRENCIES_ACTIVE: frozenset[str] = _codes("iso4217.txt")
CURRENCIES: frozenset[str] = CURRENCIES_ACTIVE | frozenset(_CURRENCIES_WITHDRAWN_SINCE_2023.split())

# The 31 members in June 2023: Finland joined on 4 April 2023, Sweden only on 7 March 2024.
NATO_MEMBERS_2023: tuple[str, ...] = (
    "ALB", "BEL", "BGR", "CAN", "HRV", "CZE", "DNK", "EST", "FIN", "FRA", "DEU",
    "GRC", "HUN", "ISL", "ITA", "LVA", "LTU", "LUX", "MNE", "NLD", "MKD", "NOR",
    "POL", "PRT", "ROU", "SVK", "SVN", "ESP", "TUR", "GBR", "USA",
)  # fmt: skip

UKRAINE = "UKR"


def is_country(code: object) -> bool:
    """True for an assigned ISO 3166-1 alpha-3 code (upper case, exactly as listed)."""
    return isinstance(code, str) and code in COUNTRIES_ALPHA3


def is_currency(code: object) -> bool:
    """True for an ISO 4217 alphabetic code in use in 2023 or later (upper case)."""
    return isinstance(code, str) and code in CURRENCIES
