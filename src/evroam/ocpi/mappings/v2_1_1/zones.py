"""The time zone of a 2.1.1 Location, which may leave `time_zone` out (2.2+ requires it, and
pricing needs it): the zone of its country when the country has one (ISO 3166 alpha-3, or the
alpha-2 code some 2.1.1 peers send in its place)."""

from __future__ import annotations

# Countries with one time zone (mainland Europe, where 2.1.1 roaming mostly runs, and others).
_ZONES = {
    ("AUT", "AT"): "Europe/Vienna", ("BEL", "BE"): "Europe/Brussels", ("BGR", "BG"): "Europe/Sofia",
    ("CHE", "CH"): "Europe/Zurich", ("CYP", "CY"): "Asia/Nicosia", ("CZE", "CZ"): "Europe/Prague",
    ("DEU", "DE"): "Europe/Berlin", ("DNK", "DK"): "Europe/Copenhagen", ("EST", "EE"): "Europe/Tallinn",
    ("FIN", "FI"): "Europe/Helsinki", ("FRA", "FR"): "Europe/Paris", ("GBR", "GB"): "Europe/London",
    ("GRC", "GR"): "Europe/Athens", ("HRV", "HR"): "Europe/Zagreb", ("HUN", "HU"): "Europe/Budapest",
    ("IRL", "IE"): "Europe/Dublin", ("ISL", "IS"): "Atlantic/Reykjavik", ("ITA", "IT"): "Europe/Rome",
    ("LIE", "LI"): "Europe/Vaduz", ("LTU", "LT"): "Europe/Vilnius", ("LUX", "LU"): "Europe/Luxembourg",
    ("LVA", "LV"): "Europe/Riga", ("MLT", "MT"): "Europe/Malta", ("NLD", "NL"): "Europe/Amsterdam",
    ("NOR", "NO"): "Europe/Oslo", ("POL", "PL"): "Europe/Warsaw", ("ROU", "RO"): "Europe/Bucharest",
    ("SRB", "RS"): "Europe/Belgrade", ("SVK", "SK"): "Europe/Bratislava", ("SVN", "SI"): "Europe/Ljubljana",
    ("SWE", "SE"): "Europe/Stockholm", ("TUR", "TR"): "Europe/Istanbul", ("UKR", "UA"): "Europe/Kyiv",
    ("ISR", "IL"): "Asia/Jerusalem", ("JPN", "JP"): "Asia/Tokyo", ("KOR", "KR"): "Asia/Seoul",
    ("SGP", "SG"): "Asia/Singapore", ("NZL", "NZ"): "Pacific/Auckland", ("ZAF", "ZA"): "Africa/Johannesburg",
}
ZONE_OF = {code: zone for codes, zone in _ZONES.items() for code in codes}


def zone_of(country: object) -> str | None:
    """The time zone of a country with one, else None."""
    return ZONE_OF.get(str(country).upper()) if country else None
