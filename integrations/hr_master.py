"""The company's HR master system (用友、金蝶、北森, or the IM platforms' address books), which hrflow
keeps its employee register in step with, instead of HR typing people in twice (seed 002).

A master answers a snapshot of everyone it holds, each record under the employee import's field
names (``employee_id``, ``name``, ``department``, ``manager_id``, ``unit_code``, ...) and a
``status`` of ``active`` or ``left``, and of its organisation units, each under the unit import's
field names (``code``, ``name``, ``kind``, ``parent_code``, ``si_city``, ``head_employee_id``) and a
``status`` of ``active`` or ``closed``. hrflow only reads it: ``POST /org-units/sync`` and
``POST /employees/sync`` compare the snapshot with the tree and the register and apply what
changed, each all or nothing. The IM platforms' address books are further implementations of
``HrMaster`` (``integrations.wecom.WeComContacts``), marked ``contacts_only``.

``ExportFileMaster`` reads the export file such a system writes on a schedule (to a shared folder):

    {"source": "用友 NC 每日导出", "exported_at": "2026-12-03T02:00:00+08:00",
     "units": [{"code": "SH", "name": "上海分公司", "kind": "branch", "parent_code": "CO", ...}],
     "employees": [{"employee_id": "E1001", "name": "王芳", ..., "status": "active"}]}
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

STATUSES = ("active", "left")
UNIT_STATUSES = ("active", "closed")


class MasterUnavailable(Exception):
    """The master could not be read (no export yet, a file cut short, the system down): try later."""


@dataclass(frozen=True)
class MasterRecord:
    position: int  # its place in the snapshot, from 1, as a problem names it
    fields: dict[str, Any]  # under the employee import's field names
    status: str  # active or left


@dataclass(frozen=True)
class MasterSnapshot:
    source: str
    exported_at: dt.datetime | None
    records: list[MasterRecord]
    units: list[MasterRecord] = field(default_factory=list)  # under the unit import's names; active or closed
    # An address book (WeCom, DingTalk, Feishu) knows names, departments, e-mails and managers, not
    # contracts: its records carry only those fields, and someone it lists whom the register does
    # not know is reported as unmatched, not registered.
    contacts_only: bool = False


class HrMaster(Protocol):
    @property
    def name(self) -> str: ...

    def snapshot(self) -> MasterSnapshot: ...


@dataclass(frozen=True)
class ExportFileMaster:
    """The master's scheduled export, a JSON file (the format above)."""

    path: Path
    name: str = "export"

    def snapshot(self) -> MasterSnapshot:
        try:
            loaded = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise MasterUnavailable(f"主数据导出文件不存在：{self.path} (no export file at {self.path})") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise MasterUnavailable(f"主数据导出文件无法读取：{exc} (the export file cannot be read: {exc})") from None
        if not isinstance(loaded, dict) or not isinstance(loaded.get("employees"), list):
            raise MasterUnavailable("主数据导出文件缺少 employees 列表 (the export has no employees list)")
        if not isinstance(loaded.get("units", []), list):
            raise MasterUnavailable("主数据导出文件的 units 须为列表 (the export's units must be a list)")
        records = _records(loaded["employees"])
        exported = loaded.get("exported_at")
        try:
            exported_at = dt.datetime.fromisoformat(exported) if isinstance(exported, str) else None
        except ValueError:
            exported_at = None
        return MasterSnapshot(source=str(loaded.get("source") or self.name), exported_at=exported_at,
                              records=records, units=_records(loaded.get("units", [])))


def _records(items: list[Any]) -> list[MasterRecord]:
    found = []
    for i, item in enumerate(items, start=1):
        fields = dict(item) if isinstance(item, dict) else {}
        status = str(fields.pop("status", "active"))
        found.append(MasterRecord(position=i, fields=fields, status=status))
    return found
