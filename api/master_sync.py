"""Reading the HR master system for a sync (``POST /org-units/sync``, ``POST /employees/sync``):
only staff who work for the whole company sync it, and a master not configured or not readable is
said plainly rather than failing.
"""

from __future__ import annotations

import anyio.to_thread
from starlette.requests import Request

from api import scope
from api.auth import Principal
from api.errors import ApiError
from integrations.hr_master import HrMaster, MasterSnapshot, MasterUnavailable


async def master_snapshot(request: Request, principal: Principal) -> MasterSnapshot:
    """The master's snapshot; 403 for a member placed in one unit, 409 without a master, 503 when
    it cannot be read."""
    if scope.placed(principal):
        raise ApiError(403, "company_wide_only", f"主数据同步涉及全公司，须由不限组织单位的人员办理（您负责 {principal.unit}）"
                                                 f" (a sync takes in the whole company: someone who works for every"
                                                 f" unit does it; you work for {principal.unit})")
    master: HrMaster | None = request.app.state.hr_master
    if master is None:
        raise ApiError(409, "no_master", "未配置人事主数据系统：请设置 HRFLOW_HR_MASTER_EXPORT 或 HRFLOW_WECOM_CONTACTS_SECRET"
                                         " (no HR master system is configured: set HRFLOW_HR_MASTER_EXPORT"
                                         " or HRFLOW_WECOM_CONTACTS_SECRET)")
    try:
        return await anyio.to_thread.run_sync(master.snapshot)
    except MasterUnavailable as exc:
        raise ApiError(503, "master_unavailable", str(exc)) from None
