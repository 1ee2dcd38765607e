"""The grader's worker process: math-verify on its own main thread, JSON lines over stdio.

Run by envs.math.grader.Grader as a plain script (it imports nothing from worldplan, so
starting it costs only math-verify's import). Each stdin line is {"pred": str, "gold": str};
each stdout line {"correct": bool, "detail": str} ("" when the comparison ran cleanly). The
first line, {"correct": true, "detail": "ready"}, says the imports are done.
Environment: WORLDPLAN_GRADER_MEMORY (address-space cap, bytes; 0 = none) and
WORLDPLAN_GRADER_INNER_TIMEOUT (math-verify's own alarm timeout, seconds).
"""

from __future__ import annotations

import json
import os
import sys


def main() -> None:
    memory_bytes = int(os.environ.get("WORLDPLAN_GRADER_MEMORY", "0"))
    inner_timeout_s = int(os.environ.get("WORLDPLAN_GRADER_INNER_TIMEOUT", "5"))
    if memory_bytes:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    import logging

    logging.disable(logging.WARNING)
    from math_verify import parse, verify

    _reply(True, "ready")  # imports done: the parent's timeouts start counting now
    for line in sys.stdin:
        try:
            item = json.loads(line)
            pred, gold = str(item["pred"]), str(item["gold"])
        except (ValueError, KeyError, TypeError) as e:
            _reply(False, f"bad request: {e}")
            continue
        try:
            gold_p = parse(f"\\boxed{{{gold}}}", parsing_timeout=inner_timeout_s)
            pred_p = parse(f"\\boxed{{{pred}}}", parsing_timeout=inner_timeout_s)
            if not gold_p or not pred_p:
                _reply(False, f"unparsed (gold {bool(gold_p)}, pred {bool(pred_p)})")
                continue
            _reply(bool(verify(gold_p, pred_p, timeout_seconds=inner_timeout_s)), "")
        except MemoryError:
            _reply(False, "memory limit")
        except Exception as e:  # noqa: BLE001 - any sympy failure means "not shown equivalent"
            _reply(False, f"{type(e).__name__}: {e}"[:200])


def _reply(correct: bool, detail: str) -> None:
    sys.stdout.write(json.dumps({"correct": correct, "detail": detail}) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
