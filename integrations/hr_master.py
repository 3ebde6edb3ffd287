"""The company's HR master system (用友、金蝶、北森, or the IM platforms' address books), which hrflow
keeps its employee register in step with, instead of HR typing people in twice (seed 002).

A master answers a snapshot of everyone it holds, each record under the employee import's field
names (``employee_id``, ``name``, ``department``, ``manager_id``, ``unit_code``, ...) and a
``status`` of ``active`` or ``left``. hrflow only reads it: ``POST /employees/sync`` compares the
snapshot with the register and applies what changed, all or nothing. The DingTalk, WeCom and
Feishu address books are further implementations of ``HrMaster``.

``ExportFileMaster`` reads the export file such a system writes on a schedule (to a shared folder):

    {"source": "用友 NC 每日导出", "exported_at": "2026-12-03T02:00:00+08:00",
     "employees": [{"employee_id": "E1001", "name": "王芳", ..., "status": "active"}]}
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

STATUSES = ("active", "left")


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


class HrMaster(Protocol):
    name: str

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
        records = []
        for i, item in enumerate(loaded["employees"], start=1):
            fields = dict(item) if isinstance(item, dict) else {}
            status = str(fields.pop("status", "active"))
            records.append(MasterRecord(position=i, fields=fields, status=status))
        exported = loaded.get("exported_at")
        try:
            exported_at = dt.datetime.fromisoformat(exported) if isinstance(exported, str) else None
        except ValueError:
            exported_at = None
        return MasterSnapshot(source=str(loaded.get("source") or self.name), exported_at=exported_at,
                              records=records)
