"""A case's approval route as it runs: steps signed in order, all or any of each step's signers,
and the task actions on it (transfer, add-sign, return to an earlier step, a leaver's handover).

The route was resolved to people when the case began (``activities.approval``) and is kept in the
workflow: each signer has an approval task in the inbox while her step is current; every action
closes and opens tasks through ``case_ops``, so the inbox and the audit trail say what happened.
Call only from workflow code.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine
from typing import Any, Concatenate, Literal, ParamSpec, TypeVar

from pydantic import BaseModel, Field
from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain.actors import SYSTEM, Actor
    from domain.approval_routes import ResolvedRoute, ResolvedStep, Signer
    from domain.contracts.cases import CloseTask
    from domain.refusals import Refusal
    from domain.roles import Role

from workflows import case_ops, kernel


class Signature(BaseModel):
    step: int
    signer: int
    user: str
    on_behalf_of: str | None = None


class StepView(BaseModel):
    name: str
    mode: str
    signers: list[Signer]
    signed_by: list[str]
    added_by: str | None = None


class ApprovalView(BaseModel):
    """The route as the case shows it: which step is current, who signed what, what was noted."""

    version: int
    source: str
    current: int | None  # index of the step awaiting signatures (None: all signed)
    steps: list[StepView]
    notes: list[str] = Field(default_factory=list)


class TransferTask(BaseModel):
    """转交: the caller's approval goes to ``to``, who signs in her place."""

    actor: Actor
    to: Signer
    reason: str = Field(min_length=1)


class AddSigner(BaseModel):
    """加签: ``to`` signs too, before the caller (she then signs after) or after her."""

    actor: Actor
    to: Signer
    position: Literal["before", "after"]
    reason: str = Field(min_length=1)


class ReturnToStep(BaseModel):
    """退回: back to an earlier step (its index in the route), whose signatures and those after it are void."""

    actor: Actor
    step: int = Field(ge=0)
    reason: str = Field(min_length=1)


P = ParamSpec("P")
R = TypeVar("R")


def _moves(action: Callable[Concatenate[ApprovalChain, P], Coroutine[Any, Any, R]]
           ) -> Callable[Concatenate[ApprovalChain, P], Coroutine[Any, Any, R]]:
    """Counts the action as under way while it awaits its activities (``check``)."""

    @functools.wraps(action)
    async def moving(chain: ApprovalChain, /, *args: P.args, **kwargs: P.kwargs) -> R:
        chain.moving += 1
        try:
            return await action(chain, *args, **kwargs)
        finally:
            chain.moving -= 1

    return moving


class ApprovalChain:
    """The route of one decision of a case. ``next_step`` names each task uniquely in the case."""

    def __init__(self, route: ResolvedRoute, next_step: Callable[[], str], *, subject: str, maker: str | None,
                 title: tuple[str, str]) -> None:
        self.route, self.next_step, self.subject, self.maker = route, next_step, subject, maker
        self.title = title  # what the decision is, in Chinese and English: ("审批社保变更", "Approve ...")
        self.at = 0
        self.signatures: list[Signature] = []
        self.tasks: dict[tuple[int, int], str] = {}  # (step, signer) -> open task key
        self.moving = 0  # actions awaiting their activities (``_moves``)

    # ------------------------------------------------------------------ reading
    @property
    def done(self) -> bool:
        return self.at >= len(self.route.steps)

    @property
    def step(self) -> ResolvedStep:
        return self.route.steps[self.at]

    def signed(self, step: int) -> list[Signature]:
        return [s for s in self.signatures if s.step == step]

    def view(self) -> ApprovalView:
        return ApprovalView(
            version=self.route.version, source=self.route.source, current=None if self.done else self.at,
            notes=list(self.route.notes),
            steps=[StepView(name=s.name, mode=s.mode, signers=s.signers, added_by=s.added_by,
                            signed_by=[g.user for g in self.signed(i)]) for i, s in enumerate(self.route.steps)])

    # ------------------------------------------------------------------ rules (validators call these)
    def check(self, actor: Actor) -> None:
        """A validator's ``signer_of``. While an action awaits its activities, or the current step's
        tasks are not open yet, the route is between two states: the message is let in, and its
        handler decides under the case's lock once the route has settled (a second approver racing
        the first then hears that the step is signed, not that she is no approver)."""
        if self.moving or (not self.done and not any(s == self.at for s, _ in self.tasks)):
            return
        self.signer_of(actor)

    def signer_of(self, actor: Actor) -> int:
        """Her place among the current step's signers whose task is open; refused otherwise."""
        if self.done:
            raise kernel.refuse(Refusal.WRONG_STAGE, "审批已全部完成 (every step is signed)", stage="approved")
        people = {actor.user, actor.on_behalf_of} - {None}
        if any(people & {s.user, s.on_behalf_of} for s in self.signatures):
            raise kernel.refuse(Refusal.SELF_APPROVAL, "您已在本审批流程中签批过，同一人不能签两步"
                                                       " (you have signed an earlier step; one person signs once)")
        for i, signer in enumerate(self.step.signers):
            if (self.at, i) in self.tasks and signer.admits(actor.user, actor.role, actor.on_behalf_of):
                return i
        open_signers = [s for i, s in enumerate(self.step.signers) if (self.at, i) in self.tasks]
        waiting = "、".join(s.user or s.role for s in open_signers)
        if all(s.user is None for s in open_signers):  # only roles sign here: hers is not one
            raise kernel.refuse(Refusal.WRONG_ROLE, f"当前步骤“{self.step.name}”须由 {waiting} 签批，您的角色是 {actor.role}"
                                                    f" (step “{self.step.name}” is signed by {waiting}; you are"
                                                    f" {actor.role})", step=self.at)
        raise kernel.refuse(Refusal.NOT_APPROVER, f"当前步骤“{self.step.name}”待 {waiting} 签批，您不是其审批人"
                                                  f" (step “{self.step.name}” awaits {waiting}; you are not its"
                                                  " approver)", step=self.at)

    def check_newcomer(self, to: Signer) -> None:
        """Whoever a task goes to (transfer, add-sign) may sign it: not the subject, not the maker, not
        someone who signed already."""
        if to.user is None:
            raise kernel.refuse(Refusal.VALIDATION_FAILED, "须指定一位具体人员 (name one person)")
        if to.employee_id == self.subject or to.user == self.subject:
            raise kernel.refuse(Refusal.SELF_APPROVAL, f"{to.user} 是本案当事人，不能签批 ({to.user} is the subject"
                                                       " of this case)")
        if to.user == self.maker:
            raise kernel.refuse(Refusal.SELF_APPROVAL, f"{to.user} 是经办人，不能复核自己的工作 ({to.user} made this"
                                                       " case and may not check it)")
        if any(s.user == to.user for s in self.signatures) or any(
                s.user == to.user for s in self.step.signers if s.user is not None):
            raise kernel.refuse(Refusal.VALIDATION_FAILED, f"{to.user} 已是本步骤的审批人或已签批 ({to.user} already"
                                                           " signs this step or has signed)")

    def check_return(self, msg: ReturnToStep) -> None:
        self.check(msg.actor)
        if msg.step >= self.at:
            raise kernel.refuse(Refusal.VALIDATION_FAILED, f"只能退回到当前步骤（第 {self.at + 1} 步）之前的步骤"
                                                           f" (return only to a step before the current one, {self.at + 1})",
                                field="step")

    # ------------------------------------------------------------------ acting
    @_moves
    async def open(self) -> None:
        """Tasks for the current step's signers who have not signed."""
        if self.done:
            return
        signed = {s.signer for s in self.signed(self.at)}
        step = self.step
        for i, signer in enumerate(step.signers):
            if i in signed or (self.at, i) in self.tasks:
                continue
            key = f"approve-{self.next_step()}"
            zh, en = self.title
            await case_ops.open_task(
                key, f"{zh}：第{self.at + 1}/{len(self.route.steps)}步 {step.name} ({en}: step {self.at + 1} of"
                     f" {len(self.route.steps)}, {'all sign' if step.mode == 'all' else 'any one signs'})",
                signer.role, assignee=signer.user)
            self.tasks[(self.at, i)] = key

    def completes(self, actor: Actor) -> bool:
        """Whether her signature would complete the whole route: the last step, and the last
        signature it needs."""
        last = self.at == len(self.route.steps) - 1
        return last and (self.step.mode != "all" or len(self.signed(self.at)) + 1 >= len(self.step.signers))

    @_moves
    async def sign(self, actor: Actor) -> bool:
        """Her signature on the current step, its tasks closed now and the next step's opened;
        True when it completes the whole route."""
        at = self.at
        await case_ops.close_apart(self.signing(actor))
        if self.at == at:
            return False  # the step awaits more signatures
        await self.open()
        return self.done

    def signing(self, actor: Actor) -> list[CloseTask]:
        """Her signature on the current step, its tasks' closes handed to the caller: hers approved
        and, once the step is signed, its other ones cancelled and the route at its next step."""
        closes = [case_ops.closing(self._signature(actor), "approved", actor=actor)]
        if self.step.mode == "all" and len(self.signed(self.at)) < len(self.step.signers):
            return closes
        closes += [case_ops.closing(key, "cancelled", reason=f"本步骤已由 {actor.user} 签批（或签） (signed by"
                                                              f" {actor.user}; any one signs)")
                   for key in self._pop_step()]
        self.at += 1
        return closes

    def rejecting(self, actor: Actor, reason: str) -> list[CloseTask]:
        """Her rejection ends the route: her task's close (rejected) and every other one's
        (cancelled), handed to the caller to carry in the step that records the rejection."""
        closes = [case_ops.closing(self.tasks.pop((self.at, self.signer_of(actor))), "rejected", actor=actor,
                                   reason=reason)]
        closes += [case_ops.closing(key, "cancelled", actor=actor, reason=f"已由 {actor.user} 驳回 (rejected by {actor.user})")
                   for key in self.tasks.values()]
        self.tasks.clear()
        return closes

    @_moves
    async def cancel(self, decision: str, reason: str, actor: Actor = SYSTEM) -> None:
        """Every open approval task closes (a rejection, a withdrawal, a correction)."""
        for key in list(self.tasks.values()):
            await case_ops.close_task(key, decision, actor=actor, reason=reason)
        self.tasks.clear()

    @_moves
    async def restart(self, reason: str, title: tuple[str, str], actor: Actor = SYSTEM) -> None:
        """From the first step again, every signature void (an approval revoked), its tasks so titled."""
        await self.cancel("cancelled", reason, actor)
        self.title = title
        self.at, self.signatures = 0, []
        await self.open()

    @_moves
    async def transfer(self, msg: TransferTask) -> None:
        i = self.signer_of(msg.actor)
        self.check_newcomer(msg.to)
        self.step.signers[i] = msg.to.model_copy(update={"label": f"{msg.actor.user} 转交 (transferred): {msg.reason}"})
        await case_ops.close_task(self.tasks.pop((self.at, i)), "cancelled", actor=msg.actor,
                                  reason=f"转交给 {msg.to.user}：{msg.reason} (transferred to {msg.to.user})")
        await self.open()
        await self._audit("approval.transferred", msg.actor, {"to": msg.to.user, "reason": msg.reason, "step": self.at})

    @_moves
    async def add_signer(self, msg: AddSigner) -> None:
        self.signer_of(msg.actor)
        self.check_newcomer(msg.to)
        added = ResolvedStep(name=f"加签 (added by {msg.actor.user})", mode="any", added_by=msg.actor.user,
                             signers=[msg.to.model_copy(update={"label": f"{msg.actor.user} 加签: {msg.reason}"})])
        if msg.position == "after":
            self.route.steps.insert(self.at + 1, added)
            self._shift(self.at + 1)
        else:
            await self._close_step("cancelled", f"前加签：待 {msg.to.user} 签批后再办 (added {msg.to.user} before;"
                                                " this task reopens after)")
            self.route.steps.insert(self.at, added)
            self._shift(self.at)
            await self.open()
        await self._audit("approval.signer_added", msg.actor,
                          {"to": msg.to.user, "position": msg.position, "reason": msg.reason})

    @_moves
    async def return_to(self, msg: ReturnToStep) -> None:
        self.signer_of(msg.actor)
        self.check_return(msg)
        await self.cancel("cancelled", f"退回到第 {msg.step + 1} 步：{msg.reason} (returned to step {msg.step + 1})",
                          msg.actor)
        voided = [g.user for g in self.signatures if g.step >= msg.step]
        self.signatures = [s for s in self.signatures if s.step < msg.step]
        self.at = msg.step
        await self.open()
        await self._audit("approval.returned", msg.actor,
                          {"step": msg.step, "signatures_voided": voided, "reason": msg.reason})

    @_moves
    async def reassign(self, from_user: str, to: Signer | None, reason: str, actor: Actor = SYSTEM) -> list[str]:
        """Her places in the steps not yet signed go to ``to`` (any hr_manager when None); her open
        tasks close and reopen for the newcomer. Answers the steps' names she was taken off."""
        moved: list[str] = []
        instead = to or Signer(role=Role.HR_MANAGER.value, label=f"{from_user} 的审批转人事经理 (to any hr_manager)")
        if instead.user is not None and (instead.user == self.maker or instead.employee_id == self.subject):
            instead = Signer(role=Role.HR_MANAGER.value, label=f"{from_user} 的审批转人事经理 (to any hr_manager)")
        for s, step in enumerate(self.route.steps[self.at:], start=self.at):
            signed = {g.signer for g in self.signed(s)}
            for i, signer in enumerate(step.signers):
                if signer.user != from_user or i in signed:
                    continue
                step.signers[i] = instead.model_copy(update={"label": f"{instead.label}：{reason}"})
                moved.append(step.name)
                key = self.tasks.pop((s, i), None)
                if key is not None:
                    await case_ops.close_task(key, "cancelled", actor=actor, reason=reason)
        await self.open()
        return moved

    # ------------------------------------------------------------------ plumbing
    async def _audit(self, action: str, actor: Actor, after: dict[str, object]) -> None:
        await case_ops.audit(self.next_step(), action, actor=actor, subject=self.subject, after=after)

    async def _close_step(self, decision: str, reason: str) -> None:
        for (s, i), key in list(self.tasks.items()):
            if s == self.at:
                await case_ops.close_task(key, decision, reason=reason)
                del self.tasks[(s, i)]

    def _signature(self, actor: Actor) -> str:
        """Her signature on the current step: the key of her task, no longer the chain's to close."""
        i = self.signer_of(actor)
        self.signatures.append(Signature(step=self.at, signer=i, user=actor.user, on_behalf_of=actor.on_behalf_of))
        return self.tasks.pop((self.at, i))

    def _pop_step(self) -> list[str]:
        """The current step's open tasks, no longer the chain's to close."""
        keys = [key for (s, _), key in self.tasks.items() if s == self.at]
        self.tasks = {k: key for k, key in self.tasks.items() if k[0] != self.at}
        return keys

    def _shift(self, inserted: int) -> None:
        """A step was inserted at ``inserted``: the steps from there on move one down."""
        self.signatures = [s.model_copy(update={"step": s.step + 1}) if s.step >= inserted else s
                           for s in self.signatures]
        self.tasks = {((s + 1 if s >= inserted else s), i): k for (s, i), k in self.tasks.items()}
