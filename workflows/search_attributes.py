"""The custom search attributes every case sets, so operators can find it in the Temporal UI.

They are stored unencrypted by Temporal: only employee numbers, codes and stages go here, never
names, ID numbers or amounts. ``hrflow dev`` and the test harness register exactly this list.
"""

from __future__ import annotations

from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes

EMPLOYEE_ID = SearchAttributeKey.for_keyword("EmployeeId")
CASE_KIND = SearchAttributeKey.for_keyword("CaseKind")
CASE_STAGE = SearchAttributeKey.for_keyword("CaseStage")
PROVINCE = SearchAttributeKey.for_keyword("Province")
DEPARTMENT = SearchAttributeKey.for_keyword("Department")

ALL: tuple[SearchAttributeKey[str], ...] = (EMPLOYEE_ID, CASE_KIND, CASE_STAGE, PROVINCE, DEPARTMENT)


_CLI_TYPE_NAMES = {2: "Keyword"}  # IndexedValueType -> the dev server's flag spelling


def dev_server_flags() -> list[str]:
    """``--search-attribute Name=Type`` flags for ``temporal server start-dev``."""
    flags: list[str] = []
    for key in ALL:
        flags += ["--search-attribute", f"{key.name}={_CLI_TYPE_NAMES[key.indexed_value_type]}"]
    return flags


def at_start(*, employee_id: str | None, kind: str, stage: str, province: str = "",
             department: str = "") -> TypedSearchAttributes:
    """Search attributes to pass to ``start_workflow`` so a case is findable from its first moment
    (``employee_id`` None: a batch of many employees)."""
    pairs = [SearchAttributePair(CASE_KIND, kind), SearchAttributePair(CASE_STAGE, stage)]
    if employee_id is not None:
        pairs.insert(0, SearchAttributePair(EMPLOYEE_ID, employee_id))
    if province:
        pairs.append(SearchAttributePair(PROVINCE, province))
    if department:
        pairs.append(SearchAttributePair(DEPARTMENT, department))
    return TypedSearchAttributes(pairs)
