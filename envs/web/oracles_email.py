"""A reactive oracle for MiniWoB++'s email inbox tasks (ten of them, some with goals in
natural language): open the sender's email, then delete it, star it, reply to it or
forward it.

The goal is read with a few patterns: the sender is the name in the goal that the inbox
lists (with "from/by X", "X wrote/sent", "X's" deciding between two), the recipient of a
forward the other name ("to Y", "give Y"); the task comes from its verbs. The email view's
icons have no names in the accessibility tree: they are told apart by their order on the
page (back, then trash, then star), the reply and forward screens' send icon is the last
one of their header.
Not handled: goals that name neither a sender nor a task in these words.
"""

from __future__ import annotations

import re

from worldplan.envs.web.axtree import AxNode, find
from worldplan.envs.web.observation import WebObservation
from worldplan.envs.web.oracle_kit import Memo, Oracle, OracleUnavailable, Plan, js, quoted

VERBS = (("reply", ("reply", "respond", "answer", "write back")),
         ("forward", ("forward", "foward", "send", "sent to", "give", "waiting for",
                      "pass")),
         ("delete", ("delete", "trash", "remove", "discard", "get rid", "erase")),
         ("star", ("star", "important", "mark", "flag")))


def task_of(goal: str) -> str:
    low = goal.lower()
    for task, words in VERBS:
        if any(w in low for w in words):
            return task
    if quoted(goal):  # 'Email X the message, "..."': a reply with that text
        return "reply"
    raise OracleUnavailable(f"no task in {goal!r}")


def people(goal: str, senders: list[str]) -> tuple[str, str]:
    """(sender, recipient) named by the goal; recipient '' when there is none."""
    names = [w for w in re.findall(r"[A-Z][a-z]+(?:-[A-Z][a-z]+)?", goal)]
    by = re.search(r"(?:from|by) ([A-Z]\w+)|([A-Z]\w+)(?:'s| wrote| sent)", goal)
    to = re.search(r"(?:to|[Gg]ive|[Ss]end) ([A-Z]\w+)|([A-Z]\w+) is waiting", goal)
    sender = (by.group(1) or by.group(2)) if by else ""
    recipient = (to.group(1) or to.group(2)) if to else ""
    if sender not in senders:
        sender = next((n for n in names if n in senders and n != recipient), "")
    if not recipient:
        recipient = next((n for n in names if n != sender and n not in ("Find", "Please")),
                         "")
    if not sender:
        raise OracleUnavailable(f"no sender of the inbox in {goal!r}")
    return sender, recipient


def _pointers(nodes: list[AxNode]) -> list[AxNode]:
    return [n for n in nodes if n.ref and n.role == "generic" and n.states.get("cursor")]


def email_inbox(obs: WebObservation, nodes: list[AxNode], memo: Memo) -> Plan:
    if memo.get("sent"):
        return []
    task = memo.setdefault("task", task_of(obs.goal))
    labels = [n.label for n in nodes]
    if find(nodes, "heading", "Primary"):  # the inbox: open the sender's email
        rows = _pointers(nodes)
        senders = {}
        for r in rows:
            i = nodes.index(r)
            if i + 1 < len(nodes) and nodes[i + 1].depth > r.depth and nodes[i + 1].label:
                senders[nodes[i + 1].label] = r.ref
        sender, recipient = people(obs.goal, list(senders))
        memo["recipient"] = recipient
        return [f'click("{senders[sender]}")']
    if "Reply" in labels and "Forward" in labels:  # an email: act on it
        icons = _pointers(nodes)  # back, trash, star, then the reply/forward bar
        if task == "delete":
            memo["sent"] = True
            return [f'click("{icons[1].ref}")']
        if task == "star":
            memo["sent"] = True
            return [f'click("{icons[2].ref}")']
        word = "Reply" if task == "reply" else "Forward"
        return [f'click("{next(n.ref for n in nodes if n.label == word and n.ref)}")']
    boxes = find(nodes, "textbox")
    send = _pointers(nodes)[-1]
    memo["sent"] = True
    if task == "reply":
        text = quoted(obs.goal)[0] if quoted(obs.goal) else ""
        return [f'fill("{boxes[-1].ref}", {js(text)})', f'click("{send.ref}")']
    return [f'fill("{boxes[0].ref}", {js(memo["recipient"])})', f'click("{send.ref}")']


EMAIL: dict[str, Oracle] = {name: Oracle(email_inbox, reactive=True) for name in (
    "email-inbox", "email-inbox-delete", "email-inbox-forward", "email-inbox-forward-nl",
    "email-inbox-forward-nl-turk", "email-inbox-important", "email-inbox-nl-turk",
    "email-inbox-noscroll", "email-inbox-reply", "email-inbox-star-reply")}
