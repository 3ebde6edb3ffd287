"""The messages every case with an approver route answers: transfer a task, add a signer, return to
an earlier step, and a leaver's places handed over.

A process workflow that runs its decision through an ``ApprovalChain`` inherits ``RoutedCase`` and
says three things: which stage the route is signed in (``_check_task_action``), whether it is being
signed now (``_awaiting_signatures``), and whom the case is about (``_subject_id``). Cases begun
before their process had routes have no chain: the actions are refused, a handover only noted.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from temporalio import workflow

from workflows import case_ops, kernel
from workflows.approval_chain import AddSigner, ApprovalChain, ReturnToStep, TransferTask

with workflow.unsafe.imports_passed_through():
    from domain.actors import Actor
    from domain.contracts import approval as routes
    from domain.contracts.cases import CloseTask
    from domain.refusals import Refusal

# Patch id under which a process resolves its approver route at start (each process's histories
# before it keep their one task for a role).
APPROVER_ROUTES = "approver-routes"


class RoutedCase:
    """Mixin of a process workflow whose decision runs an approver route (``self.chain``)."""

    chain: ApprovalChain | None
    case_open: bool
    _lock: asyncio.Lock

    # ------------------------------------------------------------------ what the process says
    def _check_task_action(self, actor: Actor) -> ApprovalChain:
        """Refuses unless the route is being signed and ``actor`` may act on its current step."""
        raise NotImplementedError

    def _awaiting_signatures(self) -> bool:
        raise NotImplementedError

    def _subject_id(self) -> str:
        raise NotImplementedError

    def _next_step(self) -> str:
        raise NotImplementedError

    def view(self) -> Any:
        raise NotImplementedError

    # ------------------------------------------------------------------ deciding
    async def _signed(self, actor: Actor, unrouted: Callable[[], list[CloseTask]]) -> list[CloseTask] | None:
        """Her approval: None while the route awaits more signatures, else the closes of the tasks
        it ends (``unrouted``: those of a case without a route), for the step that records the
        approved stage to carry (``case_ops.CLOSE_WITH_STAGE``: one step, one transaction). A case
        whose history is from before that closes them here, a step each."""
        one_step = workflow.patched(case_ops.CLOSE_WITH_STAGE)
        if self.chain is not None and not (one_step and self.chain.completes(actor)):
            return [] if await self.chain.sign(actor) else None
        closes = self.chain.signing(actor) if self.chain is not None else unrouted()
        if one_step:
            return closes
        await case_ops.close_apart(closes)
        return []

    async def _rejected(self, actor: Actor, reason: str, unrouted: Callable[[], list[CloseTask]]) -> list[CloseTask]:
        """Her rejection: the closes of every task it ends (the route's, then ``unrouted``), for the
        step that records the rejected stage to carry; as ``_signed`` for cases from before that."""
        closes = (self.chain.rejecting(actor, reason) if self.chain is not None else []) + unrouted()
        if workflow.patched(case_ops.CLOSE_WITH_STAGE):
            return closes
        await case_ops.close_apart(closes)
        return []

    # ------------------------------------------------------------------ resolving
    async def _open_route(self, decision: str, fields: dict[str, Decimal | str | int], title: tuple[str, str], *, why: str,
                          maker: str | None, on: dt.date, version: int | None = None) -> None:
        """Resolve the route of ``decision`` for the case's figures (the version the case pinned,
        once it has one), audit who it names, and open its first step's tasks."""
        subject = self._subject_id()
        route = await kernel.run(
            routes.RESOLVE_ROUTE,
            routes.ResolveRoute(decision=decision, subject=subject, maker=maker, on=on, version=version,
                                fields=fields),
            summary=f"approver route for {subject}")
        self.chain = ApprovalChain(route, self._next_step, subject=subject, maker=maker, title=title)
        await case_ops.audit(self._next_step(), "approval.route_resolved", subject=subject, after={
            "why": why, "version": route.version, "source": route.source, "notes": route.notes,
            "steps": [{"name": s.name, "mode": s.mode, "signers": [g.user or g.role for g in s.signers]}
                      for s in route.steps]})
        await self.chain.open()

    def _check_routed(self, stage: str) -> ApprovalChain:
        if self.chain is None:
            raise kernel.refuse(Refusal.WRONG_STAGE, "此案件按旧规则由一个角色审批，不支持转交、加签或退回"
                                                     " (this case predates approver routes: one role decides;"
                                                     " no transfer, add-sign or return)", stage=stage)
        return self.chain

    # ------------------------------------------------------------------ messages
    @workflow.update
    async def transfer_task(self, msg: TransferTask) -> Any:
        """转交: the caller's approval goes to another person, who signs in her place."""
        async with case_ops.deciding(self, lambda: self._check_newcomer(msg)):
            assert self.chain is not None
            await self.chain.transfer(msg)
        return self.view()

    @transfer_task.validator
    def _validate_transfer(self, msg: TransferTask) -> None:
        case_ops.check_when_open(self, lambda: self._check_newcomer(msg))

    @workflow.update
    async def add_signer(self, msg: AddSigner) -> Any:
        """加签: one more approver, before the caller (who signs after her) or after."""
        async with case_ops.deciding(self, lambda: self._check_newcomer(msg)):
            assert self.chain is not None
            await self.chain.add_signer(msg)
        return self.view()

    @add_signer.validator
    def _validate_add_signer(self, msg: AddSigner) -> None:
        case_ops.check_when_open(self, lambda: self._check_newcomer(msg))

    @workflow.update
    async def return_to_step(self, msg: ReturnToStep) -> Any:
        """退回: back to an earlier step of the route; its signatures and those after it are void."""
        async with case_ops.deciding(self, lambda: self._check_return(msg)):
            assert self.chain is not None
            await self.chain.return_to(msg)
        return self.view()

    @return_to_step.validator
    def _validate_return(self, msg: ReturnToStep) -> None:
        case_ops.check_when_open(self, lambda: self._check_return(msg))

    @workflow.signal(name=routes.REASSIGN_SIGNAL)
    async def tasks_reassigned(self, msg: routes.Reassign) -> None:
        """An approver left: her places in the steps not yet signed go to her manager (or any
        hr_manager). A case without a route, or done signing, only notes it."""
        await case_ops.wait_until_open(self)
        async with self._lock:
            moved: list[str] = []
            if self.chain is not None and self._awaiting_signatures():
                moved = await self.chain.reassign(msg.from_user, msg.to, msg.reason, msg.actor)
            await case_ops.audit(self._next_step(), "approval.reassigned", actor=msg.actor, subject=self._subject_id(),
                                 after={"from": msg.from_user, "to": msg.to.user if msg.to else "hr_manager",
                                        "steps": moved, "reason": msg.reason})

    # ------------------------------------------------------------------ rules
    def _check_newcomer(self, msg: TransferTask | AddSigner) -> None:
        """A transfer's or an add-sign's: the caller acts on the current step, and the newcomer may sign."""
        self._check_task_action(msg.actor).check_newcomer(msg.to)

    def _check_return(self, msg: ReturnToStep) -> None:
        self._check_task_action(msg.actor).check_return(msg)
