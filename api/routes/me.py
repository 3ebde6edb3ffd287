"""``GET /me``: who the token says you are."""

from __future__ import annotations

from fastapi import APIRouter

from api.auth import Authenticated, Principal
from api.errors import responses

router = APIRouter(tags=["identity"])


@router.get("/me", response_model=Principal, responses=responses(401))
def me(principal: Authenticated) -> Principal:
    return principal
