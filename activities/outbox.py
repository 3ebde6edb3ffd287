"""The one notify activity: a notice to people or roles, written to the outbox.

Keyed by workflow id, step and recipient, so a retried activity never queues a notice twice. The
outbox relay (``hrflow.delivery``) renders and delivers it. Processes once registered a notify
activity each; their names are in recorded histories, so the same activity answers to them too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from temporalio import activity

from activities.unit import DbActivities, db_step
from db import outbox
from domain.contracts.outbox import NOTIFY, NOTIFY_ALIASES, Notify


class NoticeActivities(DbActivities):
    @activity.defn(name=NOTIFY.name)
    def notify(self, req: Notify) -> None:
        """A notice from any process (the outbox; each once per step and recipient)."""
        with db_step(self._sessions) as session:
            for r in req.recipients:
                outbox.enqueue(session, dedupe_key=f"{req.workflow_id}:{req.step}:{r.kind}:{r.who}",
                               recipient_kind=r.kind, recipient=r.who, template=req.template,
                               params=req.params, workflow_id=req.workflow_id, at=req.at)

    def all(self) -> list[Callable[..., Any]]:
        return [self.notify, *(_alias(self.notify, name) for name in NOTIFY_ALIASES)]


def _alias(notify: Callable[[Notify], None], name: str) -> Callable[[Notify], None]:
    """The same activity under a name recorded in older histories."""

    def legacy_notify(req: Notify) -> None:
        notify(req)

    return activity.defn(name=name)(legacy_notify)
