"""What the erasure tests share: every payload a history holds, and one employee's case run to
its approval."""

from __future__ import annotations

import json

from temporalio.api.common.v1 import Payload
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory

from domain.roles import Role
from hrflow.codec import KEY_ID_META
from tests.processes.test_si_change import CHECKER, ENROLL, submit, wait_submitted

SEARCH_ATTRIBUTES = "temporal.api.common.v1.SearchAttributes"
SDK_MARKER_FIELDS = {"id", "deprecated", "seq", "attempt", "activity_id", "activity_type", "complete_time",
                     "backoff", "original_schedule_time", "activation_index"}


def payloads_of(history: WorkflowHistory) -> list[Payload]:
    """Every payload the history holds for the codec (inputs, results, update arguments and answers,
    failures). The SDK's own marker bookkeeping (a patch's id, a local activity's sequence number) is
    written in clear by design and holds nothing of hers: the test checks so, and leaves it out."""
    found: list[Payload] = []
    plain: list[Payload] = []

    def walk(message) -> None:  # any protobuf message
        if isinstance(message, Payload):
            found.append(message)
            return
        for field, value in message.ListFields():
            if field.message_type is None or field.message_type.full_name == SEARCH_ATTRIBUTES:
                continue  # search attributes are not payloads the codec sees: employee numbers and stages
            if hasattr(value, "ListFields"):
                walk(value)
            else:  # a repeated field or a map of messages
                for item in value.values() if hasattr(value, "values") else value:
                    if hasattr(item, "ListFields"):
                        walk(item)

    for event in history.events:
        before = len(found)
        walk(event)
        if event.event_type == EventType.EVENT_TYPE_MARKER_RECORDED:
            plain += [p for p in found[before:] if KEY_ID_META not in p.metadata]
    for p in plain:
        assert p.metadata["encoding"] == b"json/plain" and set(json.loads(p.data)) <= SDK_MARKER_FIELDS, p
    return [p for p in found if KEY_ID_META in p.metadata or p not in plain]


async def approved_case(api, auth, temporal_env, employee_id: str) -> str:
    wf = (await submit(api, auth, ENROLL | {"employee_id": employee_id}))["workflow_id"]
    await wait_submitted(api, auth, wf)
    r = await api.post(f"/si-changes/{wf}/approve", json={}, headers=auth(Role.HR_MANAGER, CHECKER))
    assert r.status_code == 200, r.text
    return wf
