"""Personal data (names, resident ID numbers): who may see it in full, and how it is masked.

An employee always sees their own data. HR sees both in full (they file the cases); finance,
compliance and IT need to know who a case is about but not the ID number; admins operate the system
and see neither unmasked through the API (they can decode payloads in the Temporal UI, audited).
"""

from __future__ import annotations

import re

from domain.roles import Role

_SEES_NAME = frozenset({Role.HR_SPECIALIST, Role.HR_MANAGER, Role.FINANCE, Role.COMPLIANCE, Role.IT})
_SEES_ID_NUMBER = frozenset({Role.HR_SPECIALIST, Role.HR_MANAGER})

RESIDENT_ID_PATTERN = re.compile(r"(?<![0-9])(\d{6})\d{8}(\d{3}[\dXx])(?![0-9Xx])")
# A mainland mobile number (11 digits from 13x to 19x), with or without the +86 / 86 prefix.
MOBILE_PATTERN = re.compile(r"(?<![0-9])((?:\+?86[- ]?)?1[3-9]\d)\d{4}(\d{4})(?![0-9])")


def mask_id_number(number: str) -> str:
    """``110105194912310021`` -> ``110105********0021``: region kept, birth date hidden."""
    if len(number) != 18:
        return "*" * len(number)
    return f"{number[:6]}{'*' * 8}{number[14:]}"


def mask_name(name: str) -> str:
    """Keep the first character (the surname in most Chinese names): ``张三丰`` -> ``张**``."""
    if not name:
        return name
    return name[0] + "*" * max(len(name) - 1, 1)


def may_see_name(role: Role, *, is_self: bool) -> bool:
    return is_self or role in _SEES_NAME


def may_see_id_number(role: Role, *, is_self: bool) -> bool:
    return is_self or role in _SEES_ID_NUMBER


def scrub(text: str) -> str:
    """Mask every resident ID number inside free text (log lines, error messages)."""
    return RESIDENT_ID_PATTERN.sub(lambda m: f"{m.group(1)}{'*' * 8}{m.group(2)}", text)


def scrub_free_text(text: str) -> str:
    """What a person typed into a reason or a note, with every resident ID number and mobile number
    in it masked before it is stored anywhere (a case, its history, the append-only audit trail):
    ``138****5678``. The numbers belong in the employee's record, where they are protected."""
    return MOBILE_PATTERN.sub(lambda m: f"{m.group(1)}****{m.group(2)}", scrub(text))
