"""What every request body shares: no unknown fields, and one rule for a reason someone types.

An unknown field is refused, not ignored: a client that sends ``approved`` for ``approve`` learns
it at once instead of deciding nothing. A reason is trimmed before it is measured, so a reason of
spaces is no reason, and a resident ID or mobile number typed into it is masked before it goes
anywhere (``domain.privacy.scrub_free_text``): a reason is shown to every role and kept for good.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints

from domain.privacy import scrub_free_text

Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000),
                   AfterValidator(scrub_free_text)]
UserId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._@-]{1,64}$")]  # a login, as tokens name it
OptionalReason = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000),
                           AfterValidator(scrub_free_text)] | None


class Body(BaseModel):
    """A request body: fields it does not declare are refused (422)."""

    model_config = ConfigDict(extra="forbid")


class ReasonIn(Body):
    reason: Reason


class OptionalReasonIn(Body):
    reason: OptionalReason = None
