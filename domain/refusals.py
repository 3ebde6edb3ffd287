"""Why a request is refused: one taxonomy for workflows, activities and the API.

A refusal travels through Temporal as an ``ApplicationError`` whose ``type`` is a member's
``type_name``; the API answers it with the member's HTTP status, error code and its title beside
the specific message, both in the caller's language (the workflows write each message
"中文 (English)", and the API answers the caller's half). A kind that is not listed here cannot be raised by the
workflow kernel, so a new kind is a deliberate entry in this table, never a silent 409.
"""

from __future__ import annotations

from enum import Enum


class Refusal(Enum):
    """``(type name, HTTP status, error code, Chinese title, English title, retryable)``."""

    WRONG_STAGE = ("WrongStage", 409, "wrong_stage", "案件当前阶段不能办理此操作", "not possible at this stage of the case")
    WRONG_ROLE = ("WrongRole", 403, "wrong_role", "您的角色不能办理此操作", "your role may not do this")
    FORBIDDEN = ("Forbidden", 403, "forbidden", "您无权办理此操作", "you may not do this")
    SELF_APPROVAL = ("SelfApproval", 403, "self_approval", "不能审批自己提交或涉及自己的事项",
                     "no one approves what they submitted or what concerns them")
    NOT_MAKER = ("NotMaker", 403, "not_maker", "只有经办人可以办理此操作", "only the maker may do this")
    NOT_APPROVER = ("NotApprover", 403, "not_approver", "只有审批人可以办理此操作", "only an approver may do this")
    VALIDATION_FAILED = ("ValidationFailed", 422, "validation_failed", "填写的内容不符合规则",
                         "what was entered breaks a rule")
    NOT_FOUND = ("NotFound", 404, "not_found", "找不到要办理的事项", "no such item")
    OVER_SETTLEMENT = ("OverSettlement", 409, "over_settlement", "扣回金额超过尚欠金额",
                       "more than is still owed")
    CONFIRMATION_REQUIRED = ("ConfirmationRequired", 409, "confirmation_required", "需先确认费用金额",
                             "the cost must be confirmed first")
    STALE_CONFIRMATION = ("StaleConfirmation", 409, "stale_confirmation", "确认的金额已过期，请按最新测算重新确认",
                          "the confirmed figure is out of date; confirm the current estimate")
    EMPLOYEE_MISSING = ("EmployeeMissing", 422, "employee_missing", "员工档案不存在", "no such employee on record")
    AGENCY_REJECTED = ("AgencyRejected", 409, "agency_rejected", "经办机构退回了申请", "the agency refused")
    REVOCATION_REFUSED = ("RevocationRefused", 409, "revocation_refused", "经办机构不同意撤销",
                          "the agency refused the revocation")
    RECORDS_OUT_OF_STEP = ("RecordsOutOfStep", 409, "records_out_of_step", "系统记录与经办机构不一致，需人工核对",
                           "our records and the agency's differ; a person must check")
    BUSINESS_RULE_VIOLATION = ("BusinessRuleViolation", 409, "business_rule_violation", "数据违反业务规则，未写入",
                               "the data breaks a rule of the records; nothing was written")
    # Not a refusal: the worker has not read an approved holiday arrangement yet; Temporal retries.
    ARRANGEMENT_NOT_LOADED = ("ArrangementNotLoaded", 503, "arrangement_not_loaded", "节假日安排尚未加载，稍后自动重试",
                              "the holiday arrangement is not loaded yet; retried shortly", True)

    def __init__(self, type_name: str, status: int, code: str, zh: str, en: str, retryable: bool = False) -> None:
        self.type_name, self.status, self.code = type_name, status, code
        self.zh, self.en, self.retryable = zh, en, retryable

    @property
    def title(self) -> str:
        """Chinese first, English second, as every reader-facing text."""
        return f"{self.zh} ({self.en})"

    def title_in(self, lang: str) -> str:
        """The title in one language: ``"en"`` for English, Chinese for anything else."""
        return self.en if lang == "en" else self.zh

    @classmethod
    def of(cls, type_name: str | None) -> Refusal | None:
        """The member an ``ApplicationError.type`` names, or None for a type not in the table."""
        return _BY_TYPE.get(type_name or "")


_BY_TYPE = {member.type_name: member for member in Refusal}


class FieldRefused(ValueError):
    """A request refused before anything starts, naming the field to fix and the rule it broke
    (the API answers it as a 422 item; a workflow as ``Refusal.VALIDATION_FAILED`` details)."""

    def __init__(self, field: str, rule: str, message: str) -> None:
        super().__init__(message)
        self.field, self.rule = field, rule

    def detail(self) -> dict[str, str]:
        return {"field": self.field, "rule": self.rule, "message": str(self)}
