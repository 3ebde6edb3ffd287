"""``GET /me``: who the token says you are."""

from __future__ import annotations

from fastapi import APIRouter

from api.auth import Authenticated, Principal
from api.errors import responses

router = APIRouter(tags=["identity"])


@router.get("/me", response_model=Principal, responses=responses(401), summary="我是谁 (Who the token says you are)")
def me(principal: Authenticated) -> Principal:
    """令牌所代表的调用者：用户、角色，以及本人的员工编号（如有）。任何有效令牌都可调用；令牌缺失、过期或无效答 401。

    The caller the bearer token names: user, role and, if any, her own employee number. Any valid
    token; a missing, expired or invalid one is 401."""
    return principal
