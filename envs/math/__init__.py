"""MATH as a single-step environment: datasets, answer extraction, grading, the Gym env.

Importing this package has no side effects; `envs/__init__.py` registers `worldplan/Math-v0`
lazily (by string entry point `envs.math.env:MathEnv`).
"""

from worldplan.envs.math.answer import extract_answer, extract_boxed, normalize_answer
from worldplan.envs.math.data import (
           GSM8K,
           MATH,
           DatasetUnavailable,
           FieldMap,
           MathProblem,
           load_problems,
)
from worldplan.envs.math.grader import Grade, Grader

__all__ = ["GSM8K", "MATH", "DatasetUnavailable", "FieldMap", "Grade", "Grader", "MathProblem",
           "extract_answer", "extract_boxed", "load_problems", "normalize_answer"]
