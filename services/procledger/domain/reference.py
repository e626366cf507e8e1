"""Reference code sets: ISO 3166-1 alpha-3 countries, ISO 4217 currencies, NATO members."""

from __future__ import annotations

# The story's headline calibre (155mm artillery shells): charts and metrics single it out.
HEADLINE_CALIBER = 155

# ISO 3166-1 alpha-3: all 249 officially assigned codes (user-assigned codes such as XKX for
# Kosovo and reserved codes are not in the standard's list, so they are not accepted here).
_COUNTRIES = """
ABW AFG AGO AIA ALA ALB AND ARE ARG ARM ASM ATA ATF ATG AUS AUT AZE BDI BEL BEN
BES BFA BGD BGR BHR BHS BIH BLM BLR BLZ BMU BOL BRA BRB BRN BTN BVT BWA CAF CAN
CCK CHE CHL CHN CIV CMR COD COG COK COL COM CPV CRI CUB CUW CXR CYM CYP CZE DEU
DJI DMA DNK DOM DZA ECU EGY ERI ESH ESP EST ETH FIN FJI FLK FRA FRO FSM GAB GBR
GEO GGY GHA GIB GIN GLP GMB GNB GNQ GRC GRD GRL GTM GUF GUM GUY HKG HMD HND HRV
HTI HUN IDN IMN IND IOT IRL IRN IRQ ISL ISR ITA JAM JEY JOR JPN KAZ KEN KGZ KHM
KIR KNA KOR KWT LAO LBN LBR LBY LCA LIE LKA LSO LTU LUX LVA MAC MAF MAR MCO MDA
MDG MDV MEX MHL MKD MLI MLT MMR MNE MNG MNP MOZ MRT MSR MTQ MUS MWI MYS MYT NAM
NCL NER NFK NGA NIC NIU NLD NOR NPL NRU NZL OMN PAK PAN PCN PER PHL PLW PNG POL
PRI PRK PRT PRY PSE PYF QAT REU ROU RUS RWA SAU SDN SEN SGP SGS SHN SJM SLB SLE
SLV SMR SOM SPM SRB SSD STP SUR SVK SVN SWE SWZ SXM SYC SYR TCA TCD TGO THA TJK
TKL TKM TLS TON TTO TUN TUR TUV TWN TZA UGA UKR UMI URY USA UZB VAT VCT VEN VGB
VIR VNM VUT WLF WSM YEM ZAF ZMB ZWE"""

# ISO 4217 List One, alphabetic codes, as published 2026-01-01 (178 codes, including fund
# codes such as BOV and the X-codes for precious metals, SDR, testing and "no currency").
_CURRENCIES_ACTIVE = """
AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BHD BIF BMD BND BOB BOV BRL BSD
BTN BWP BYN BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUP CVE CZK DJF DKK
DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF
IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP
LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD
NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD
SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD
TWD TZS UAH UGX USD USN UYI UYU UYW UZS VED VES VND VUV WST XAD XAF XAG XAU XBA
XBB XBC XBD XCD XCG XDR XOF XPD XPF XPT XSU XTS XUA XXX YER ZAR ZMW ZWG"""

# Codes still in List One during 2023 but withdrawn since, kept so that events dated in 2023
# (the story's year) stay valid: Bulgarian lev (euro from 2026), Netherlands Antillean guilder
# (replaced by XCG), old Sierra Leonean leone (replaced by SLE), Zimbabwe dollar (by ZWG).
_CURRENCIES_WITHDRAWN_SINCE_2023 = "BGN ANG SLL ZWL"

COUNTRIES_ALPHA3: frozenset[str] = frozenset(_COUNTRIES.split())
CURRENCIES_ACTIVE: frozenset[str] = frozenset(_CURRENCIES_ACTIVE.split())
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
