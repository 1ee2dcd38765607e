"""Chat prompts for solving MATH problems and judging solutions (pure builders, no I/O).

- `solver_messages(problem)`: solve step by step, one blank line between steps, the final
  answer in \\boxed{}.
- `continuation(problem, steps)`: the solver prompt plus the partial solution as an assistant
  message, and `CONTINUE` (vLLM's `continue_final_message`) so the model extends it: how beam
  and lookahead search sample one more step.
- `revision_messages(problem, attempts)`: the solver prompt with earlier attempts of the same
  chain and the verifier's judgement of each (P(correct)), asking for a corrected solution.
- `verifier_question(asked, steps, complete)`: a yes/no question for P("Yes") that
  continues the solution's own conversation (`asked`, the messages it was sampled from,
  then the solution as the assistant's answer): is it correct (so far)? The server's prefix
  cache already holds everything but the question.

Prompts are short on purpose: the development model has a 2048-token context. Earlier
attempts are truncated to `ATTEMPT_CHARS` characters each. Steps are joined by STEP_SEP.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from worldplan.worldmodel.llm.client import Message

STEP_SEP = "\n\n"  # a solution step ends at a blank line
ATTEMPT_CHARS = 1200  # characters kept of each earlier attempt in a revision prompt
CONTINUE: dict[str, Any] = {"continue_final_message": True, "add_generation_prompt": False}

SOLVER_SYSTEM = (
    "You are a careful mathematician. Solve the problem step by step. Separate steps with "
    "a blank line. End with the final answer in \\boxed{}."
)
VERIFIER_COMPLETE = ("Check your solution above. Is it correct? Answer with a single word: "
                     "Yes or No.")
VERIFIER_PARTIAL = ("Check your steps above (the solution is not finished yet). Are they "
                    "correct so far? Answer with a single word: Yes or No.")


@dataclass(frozen=True)
class Attempt:
    """An earlier attempt shown to a revision: its text and the verifier's P(correct)."""

    text: str
    score: float | None


def solver_messages(problem: str) -> list[Message]:
    return [{"role": "system", "content": SOLVER_SYSTEM},
            {"role": "user", "content": f"Problem: {problem}"}]


def join_steps(steps: Sequence[str]) -> str:
    return STEP_SEP.join(s.strip("\n") for s in steps)


def continuation(problem: str, steps: Sequence[str]) -> tuple[list[Message], dict[str, Any]]:
    """Messages and extra request fields to sample the next step after `steps`."""
    if not steps:
        return solver_messages(problem), {}
    prefix = join_steps(steps) + STEP_SEP
    return solver_messages(problem) + [{"role": "assistant", "content": prefix}], dict(CONTINUE)


def revision_messages(problem: str, attempts: Sequence[Attempt]) -> list[Message]:
    """Ask for a new solution, showing earlier attempts and how the verifier judged them."""
    if not attempts:
        return solver_messages(problem)
    shown = []
    for i, a in enumerate(attempts, start=1):
        text = a.text if len(a.text) <= ATTEMPT_CHARS else "..." + a.text[-ATTEMPT_CHARS:]
        judged = ("not checked" if a.score is None
                  else f"a checker rates it {round(100 * a.score)}% likely correct")
        shown.append(f"Attempt {i} ({judged}):\n{text}")
    user = (f"Problem: {problem}\n\n" + "\n\n".join(shown) +
            "\n\nThese attempts may contain mistakes. Write a new, corrected solution.")
    return [{"role": "system", "content": SOLVER_SYSTEM}, {"role": "user", "content": user}]


def verifier_question(asked: Sequence[Message], steps: Sequence[str], *,
                      complete: bool) -> list[Message]:
    """A yes/no question after the (partial) solution, in the conversation it came from."""
    question = (VERIFIER_COMPLETE if complete else VERIFIER_PARTIAL)
    return [*asked, {"role": "assistant", "content": join_steps(steps)},
            {"role": "user", "content": question}]


def embedding_messages(problem: str, steps: Sequence[str]) -> list[Message]:
    """What a learned verifier embeds of a finished solution (worldmodel.llm.embedding):
    the verifier's final yes/no question after the solver's own prompt, the same for a
    bank's samples and live (whatever prompt a live sample came from)."""
    return verifier_question(solver_messages(problem), steps, complete=True)
