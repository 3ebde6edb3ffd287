"""What a task's card says on each IM: its title, the case, its due date, and a button per choice
the task's decision link allows; and what a closed one says."""

from __future__ import annotations

from typing import Any

from db import action_links, delivery
from integrations.feishu import task_card
from integrations.wecom import CardButton

WORDS = {"approve": ("同意", "Approve"), "reject": ("驳回（填写理由）", "Reject (reason)")}
CLOSED_WORDS = {"approved": "已处理：已同意", "rejected": "已处理：已驳回", "done": "已处理",
                "cancelled": "已取消，无需处理"}


def wecom_card(due: delivery.Due, link: action_links.Issued, url: str) -> dict[str, Any]:
    """A task's WeCom card: what it is, the case, and a button per choice. A choice that needs a
    reason opens the link's page (a card takes no text); the others answer by callback."""
    zh = due.language != "en"
    facts = [("案件" if zh else "Case", str(due.workflow_id))]
    if due.params.get("due"):
        facts.append(("期限" if zh else "Due", str(due.params["due"])[:16]))
    buttons = [CardButton(WORDS[c.name][0 if zh else 1], url=f"{url}?choice={c.name}") if c.needs_reason
               else CardButton(WORDS[c.name][0 if zh else 1], key=c.name, primary=c.name == "approve")
               for c in link.choices]
    return {"task_id": f"hrflow-{link.id}", "title": str(due.params.get("title") or ""),
            "description": "新待办，请审批" if zh else "A new task to decide", "facts": facts, "url": url,
            "buttons": buttons}


def feishu_card(due: delivery.Due, link: action_links.Issued, url: str) -> dict[str, Any]:
    """A task's Feishu card: a callback button per plain choice, the page for one with a reason."""
    zh = due.language != "en"
    return task_card(title=str(due.params.get("title") or ""), workflow_id=str(due.workflow_id),
                     due=str(due.params["due"])[:16] if due.params.get("due") else None, url=f"{url}?choice=reject",
                     link_id=link.id, buttons=[(WORDS[c.name][0 if zh else 1], None if c.needs_reason else c.name,
                                                c.name == "approve") for c in link.choices])


def dingtalk_card(due: delivery.Due, link: action_links.Issued, url: str) -> dict[str, Any]:
    """A task's DingTalk action card: a button per choice, each opening the task's link page."""
    zh = due.language != "en"
    lines = [f"### {due.params.get('title') or ''}", f"{'案件' if zh else 'Case'}：{due.workflow_id}"]
    if due.params.get("due"):
        lines.append(f"{'期限' if zh else 'Due'}：{str(due.params['due'])[:16]}")
    return {"title": str(due.params.get("title") or ""), "markdown": "\n\n".join(lines),
            "buttons": [(WORDS[c.name][0 if zh else 1], f"{url}?choice={c.name}") for c in link.choices]}
