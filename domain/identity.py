"""Resident identity card numbers (GB 11643-1999): which part of a number is wrong, in words.

The check digit comes from ``python-stdnum``. We do not reject a number whose county code is
unknown for the birth year (stdnum's ``validate`` does): address codes record where a person was
registered, not where they were born, so older staff would be refused wrongly. The province code
(first two digits) is stable and is checked; the county name is information only.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from stdnum.cn import ric
from stdnum.exceptions import ValidationError

# GB/T 2260 province-level codes (two leading digits); 71 Taiwan, 81/82 Hong Kong/Macau, 83 for
# holders of the mainland residence permit issued to residents of Hong Kong, Macau and Taiwan.
PROVINCE_CODES: frozenset[str] = frozenset({
    "11", "12", "13", "14", "15",
    "21", "22", "23",
    "31", "32", "33", "34", "35", "36", "37",
    "41", "42", "43", "44", "45", "46",
    "50", "51", "52", "53", "54",
    "61", "62", "63", "64", "65",
    "71", "81", "82", "83",
})

_FORMAT = re.compile(r"^\d{17}[\dX]$")


class InvalidResidentId(ValueError):
    """A resident ID number that fails a rule; ``part`` names the part (format, region, birth
    date, check digit) so a caller can say exactly what to fix."""

    def __init__(self, part: str, message: str) -> None:
        super().__init__(message)
        self.part = part


@dataclass(frozen=True)
class ResidentId:
    number: str
    birth_date: dt.date
    province_code: str
    sex: str  # "M" or "F" from the sequence digit's parity

    @property
    def region_name(self) -> str | None:
        """Where she was registered, for information; None when stdnum does not know the county
        code. Looked up only when asked: stdnum's table is slow to search, and checks never need it."""
        try:
            place = ric.get_birth_place(self.number)
        except ValidationError:
            return None
        return "".join(v for v in (place.get("province"), place.get("county")) if v) or None


def parse_resident_id(raw: str, *, today: dt.date | None = None) -> ResidentId:
    """Validate an 18-digit number and return its parts, or raise ``InvalidResidentId``."""
    number = raw.strip().upper()
    if not _FORMAT.match(number):
        raise InvalidResidentId(
            "format", "must be 17 digits followed by a digit or X (18 characters)"
        )
    if number[:2] not in PROVINCE_CODES:
        raise InvalidResidentId(
            "region", f"region code {number[:6]}: {number[:2]} is not a province code"
        )
    try:
        birth = dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise InvalidResidentId(
            "birth_date", f"birth date {number[6:14]} is not a calendar date"
        ) from None
    if birth > (today or dt.date.today()) or birth.year < 1900:
        raise InvalidResidentId(
            "birth_date", f"birth date {birth.isoformat()} is outside 1900 to today"
        )
    expected = ric.calc_check_digit(number)  # stdnum takes the whole number, ignores the last
    if expected != number[17]:
        raise InvalidResidentId(
            "check_digit", f"check digit is {number[17]}, the first 17 digits give {expected}"
        )
    return ResidentId(number=number, birth_date=birth, province_code=number[:2],
                      sex="M" if int(number[16]) % 2 else "F")
