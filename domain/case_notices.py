"""Which steps of a case the employee is told of, in her words (Chinese first, English second).

Seed 002 asks that she see each step without asking: sent to the agency, in progress (each office
step with its expected date), done, refused, returned, approved, rejected, revoked. A task opened
for a person or a role is told to them too, so nobody has to poll the inbox.
"""

from __future__ import annotations

from typing import Any

KIND_LABELS: dict[str, tuple[str, str]] = {
    "si_change": ("社保变更", "social-insurance change"),
    "maternity": ("产假", "maternity leave"),
    "offboarding": ("离职", "offboarding"),
    "transfer": ("社保转移", "social-insurance transfer"),
    "non_compete": ("竞业限制", "non-compete"),
}

# (kind, stage) -> what she is told, zh and en. A stage not listed is not hers to hear of.
EMPLOYEE_STAGES: dict[str, dict[str, tuple[str, str]]] = {
    "si_change": {
        "executing": ("已提交社保经办机构办理", "submitted to the social-insurance agency"),
        "executed": ("社保经办机构已办理完成", "carried out by the agency"),
        "agency_rejected": ("社保经办机构退回，人事将修改后重新提交", "refused by the agency; HR corrects and files again"),
        "revoked": ("已撤销", "revoked"),
        "withdrawn": ("已撤回", "withdrawn"),
    },
    "maternity": {
        "approved": ("产假申请已批准", "your leave is approved"),
        "rejected": ("产假申请被退回，请修改后重新提交", "your application was returned: correct it and submit again"),
        "on_leave": ("产假开始，公司垫付您的个人社保部分", "your leave has started; the company advances your contribution"),
        "deducting": ("已确认返岗，开始扣回公司垫付的个人社保", "your return is confirmed; the advance is recovered from pay"),
        "departed_unsettled": ("离职时仍有公司垫付款未结清，财务将与您联系",
                               "you left with an advance still open; finance will contact you"),
        "closed": ("产假案件已办结", "your leave case is closed"),
        "withdrawn": ("产假申请已撤回", "your application is withdrawn"),
        "cancelled": ("产假已取消", "your leave is cancelled"),
    },
    "offboarding": {
        "last_day": ("最后工作日：离职证明已开具，社保与公积金停缴已办理", "last day: certificate issued, contributions stopped"),
        "departed": ("已离职，档案与社保转移须在15日内办理", "you have left; archive and insurance transfer follow within 15 days"),
        "completed": ("离职手续已全部办结", "your offboarding is complete"),
        "withdrawn": ("离职已撤回，一切恢复如前", "your resignation is withdrawn; everything is restored"),
    },
    "transfer": {
        "awaiting_review": ("材料已齐全，等待人事审核", "your documents are complete and wait for HR's review"),
        "in_progress": ("已提交经办机构办理", "filed with the agencies"),
        "completed": ("转移已全部完成", "your transfer is complete"),
        "partly_rejected": ("部分险种转移被拒，人事将与您联系", "part of the transfer was refused; HR will contact you"),
        "cancelled": ("转移已取消", "your transfer is cancelled"),
        "abandoned": ("材料逾期未补齐，转移已终止", "the documents did not arrive in time: the transfer ended"),
    },
    "non_compete": {
        "violated": ("公司认定违反竞业限制，补偿已停止支付", "the company found a breach: compensation stopped"),
        "released": ("公司已解除竞业限制", "the company released you from the non-compete"),
        "completed": ("竞业限制期已届满", "the non-compete term has ended"),
    },
}


def stage_notice(kind: str, stage: str, previous: str | None, details: dict[str, Any]) -> dict[str, Any] | None:
    """The parameters of her notice for this stage change, or None when there is none to send: a
    new stage she hears of, or a transfer's next office step (with its expected date)."""
    kind_zh, kind_en = KIND_LABELS.get(kind, (kind, kind))
    if kind == "transfer" and details.get("step"):
        step, due, branch = details["step"], details.get("due"), details.get("branch")
        return {"kind_zh": kind_zh, "kind_en": kind_en,
                "label_zh": f"{branch}：{step} 办理中" + (f"，预计 {due} 前完成" if due else ""),
                "label_en": f"{branch}: {step} in progress" + (f", expected by {due}" if due else "")}
    labels = EMPLOYEE_STAGES.get(kind, {}).get(stage)
    if labels is None or stage == previous:
        return None
    return {"kind_zh": kind_zh, "kind_en": kind_en, "label_zh": labels[0], "label_en": labels[1]}
