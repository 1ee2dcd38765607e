"""Final answers in MATH-style solutions: extraction from text, and a canonical string form.

`extract_boxed` returns the content of the LAST `\\boxed{...}` (or `\\fbox{...}`) with
balanced braces, and handles `\\boxed 5`. `extract_answer` falls back to "the answer is X"
and to a short bare answer, for model outputs that forget the box. `gsm8k_answer` reads the
number after GSM8K's `####`. `normalize_answer` is a cheap canonical string (spaces, `\\left`,
`\\dfrac`, `^\\circ`, `\\$`, trailing dot, `\\text{}` wrappers removed) used to group equal
answers for voting and as the grader's fast path.

Not handled here: mathematical equivalence (`\\frac12` vs `0.5`): that is the grader's job
(envs.math.grader, on math-verify). Pure functions, no I/O.
"""

from __future__ import annotations

import re

_BOX_COMMANDS = ("\\boxed", "\\fbox")
_ANSWER_IS = re.compile(
    r"(?:final answer|the answer)\s*(?:is|:)\s*\$?([^\n$]{1,80}?)\$?\s*(?:\.|$)",
    re.IGNORECASE | re.MULTILINE)
_BARE_MAX_CHARS = 40  # a whole output this short with no box is taken as the answer itself


def extract_boxed(text: str) -> str | None:
    """The content of the last \\boxed{...} / \\fbox{...} in `text`, or None.

    Linear in practice: once a box is found unclosed, scanning an earlier box stops where
    that box's brace opens (a brace that never closes keeps every enclosing one open)."""
    best: tuple[int, str] | None = None
    unclosed = len(text)  # a "{" from which the braces never balance again (or the end)
    for cmd in _BOX_COMMANDS:
        start = text.rfind(cmd)
        while start != -1:
            content, brace = _box_content(text, start + len(cmd), unclosed)
            if content is not None:
                if best is None or start > best[0]:
                    best = (start, content)
                break
            if brace is not None:
                unclosed = min(unclosed, brace)
            start = text.rfind(cmd, 0, start)
    return None if best is None else best[1].strip()


def _box_content(text: str, i: int, unclosed: int) -> tuple[str | None, int | None]:
    """Content after a box command at index i: `{...}` balanced, or `\\boxed 5` (one token);
    and the index of its "{" when it never closes (scanning stops at `unclosed`, a "{" known
    never to close)."""
    if i < len(text) and text[i] == " " and not text[i:].lstrip().startswith("{"):
        m = re.match(r"\s+([^\s$]+)", text[i:])
        return (m.group(1) if m else None), None
    while i < len(text) and text[i] == " ":
        i += 1
    if i >= len(text) or text[i] != "{":
        return None, None
    depth = 0
    for j in range(i, len(text)):
        if j >= unclosed and j > i:  # depth >= 1 here, and it never comes back to 0
            return None, i
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return text[i + 1 : j], None
    return None, i  # unbalanced: the model stopped inside the box


def extract_answer(solution: str, *, bare: bool = True) -> str | None:
    """The final answer of a model's solution: boxed, else "the answer is X", else (if
    `bare`) a bare short answer (the whole text, if it is one short line). None if none."""
    boxed = extract_boxed(solution)
    if boxed is not None:
        return boxed or None
    matches = _ANSWER_IS.findall(solution)
    if matches:
        return matches[-1].strip() or None
    text = solution.strip().strip("$").strip()
    if bare and text and "\n" not in text and len(text) <= _BARE_MAX_CHARS:
        return text
    return None


def gsm8k_answer(text: str, delimiter: str = "####") -> str | None:
    """The reference answer after GSM8K's delimiter (`#### 42` -> "42"), commas removed."""
    if delimiter not in text:
        return None
    tail = text.rsplit(delimiter, 1)[1].strip()
    return tail.replace(",", "") or None


_TEXT_WRAP = re.compile(r"\\(?:text|textbf|mathrm|mbox)\{([^{}]*)\}")
_SPELLINGS = (("\\left", ""), ("\\right", ""), ("\\dfrac", "\\frac"), ("\\tfrac", "\\frac"),
              ("^\\circ", ""), ("^{\\circ}", ""), ("\\$", ""), ("\\!", ""), ("\\,", ""),
              ("\\;", ""), ("$", ""))


def normalize_answer(answer: str) -> str:
    """A canonical string for grouping equal answers (not a proof of equivalence).

    Idempotent: the rewrites are repeated until nothing changes (each pass that changes the
    text shortens it), so that removing one piece (a space, a "$") cannot leave another
    behind (a backslash, a line break and a comma would leave the thin space "\\,")."""
    s = answer
    while True:
        before = s
        s = re.sub(r"\s+", "", _TEXT_WRAP.sub(r"\1", s))
        for old, new in _SPELLINGS:
            s = s.replace(old, new)
        s = s.rstrip(".")
        if re.fullmatch(r"-?\d+\.0+", s):
            s = s.split(".")[0]
        if s == before:
            return s
