"""Difficulty of a problem (or of one step of a task): three estimators behind one interface.

Every estimator maps to the same scale: an estimated solve rate `p_solve` in [0, 1] (pass@1
of the proposer), cut into 5 bins by `cuts` (bin 1 easiest, bin 5 hardest), as in Snell et al.
2024. `cuts` are the ascending 20/40/60/80% quantiles of pass@1 over the calibration
problems (`quantile_cuts`); a value equal to a cut goes to the harder bin, so pass@1 = 0 is
always bin 5. Without calibration, `DEFAULT_CUTS` are equal-width.

- `OracleDifficulty`: pass@1 measured from K graded samples per problem (calibration and
  benchmarks only: it needs the reference answer). Looked up by problem text.
- `PredictedDifficulty`: cheap signals of a probe, with a fixed rule: the mean of the
  verifier's mean score and the answers' agreement (agent.strategies.probe pays for the
  probe from the same Budget and reports its cost).
- `LearnedDifficulty`: the same signals plus problem-text features through a logistic
  regression fitted on calibration traces (agent.control.predictor).

All three implement `estimate(text, signals) -> Estimate`, a pure function: running the probe
is the caller's job (agent.strategies.probe for MATH; the web agent builds `Signals` from its own
proposals and judgements). Not handled: per-subject calibration, continuous (unbinned)
policies.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from worldplan.agent.control.predictor import DifficultyModel
from worldplan.envs.math.answer import normalize_answer

N_BINS = 5
DEFAULT_CUTS: tuple[float, ...] = (0.2, 0.4, 0.6, 0.8)  # ascending pass@1 cut points


@dataclass
class Signals:
    """What a probe saw: per sample, the verifier's score, the final answer, the mean token
    entropy (nats), completion tokens and whether it hit max_tokens."""

    scores: list[float | None] = field(default_factory=list)
    answers: list[str | None] = field(default_factory=list)
    entropies: list[float] = field(default_factory=list)
    tokens: list[int] = field(default_factory=list)
    truncated: list[bool] = field(default_factory=list)

    @property
    def n(self) -> int:
        return len(self.answers)

    def features(self) -> dict[str, float]:
        """Probe features (all in [0, 1] except entropy, nats/token, and log tokens)."""
        scored = [s for s in self.scores if s is not None]
        return {
            "verifier_mean": float(np.mean(scored)) if scored else 0.5,
            "verifier_min": float(min(scored)) if scored else 0.5,
            "verifier_max": float(max(scored)) if scored else 0.5,
            "agreement": agreement(self.answers),
            "answered": (sum(a is not None for a in self.answers) / self.n) if self.n else 0.0,
            "entropy": float(np.mean(self.entropies)) if self.entropies else 0.0,
            "log_tokens": math.log1p(float(np.mean(self.tokens))) if self.tokens else 0.0,
            "truncated": (sum(self.truncated) / len(self.truncated)) if self.truncated else 0.0,
        }

    def to_dict(self) -> dict[str, Any]:
        return {"scores": self.scores, "answers": self.answers, "entropies": self.entropies,
                "tokens": self.tokens, "truncated": self.truncated}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Signals:
        return cls(list(d.get("scores", [])), list(d.get("answers", [])),
                   [float(x) for x in d.get("entropies", [])],
                   [int(x) for x in d.get("tokens", [])],
                   [bool(x) for x in d.get("truncated", [])])


def agreement(answers: Sequence[str | None]) -> float:
    """Share of samples giving the most frequent (canonical) answer; 0 if none answered."""
    keys = [normalize_answer(a) for a in answers if a]
    if not answers or not keys:
        return 0.0
    return Counter(keys).most_common(1)[0][1] / len(answers)


_MATH = re.compile(r"\\[a-zA-Z]+|[\^_=+\-*/<>]")


def text_features(text: str) -> dict[str, float]:
    """Cheap features of the problem text (no model): length, digits, LaTeX density."""
    chars = max(len(text), 1)
    return {
        "text_log_chars": math.log1p(len(text)),
        "text_digits": sum(c.isdigit() for c in text) / chars,
        "text_math": len(_MATH.findall(text)) / chars * 10,
        "text_asy": float("[asy]" in text),
    }


def token_entropy(top: Mapping[str, float]) -> float:
    """Entropy (nats) of one token's distribution, from its top logprobs renormalised."""
    if not top:
        return 0.0
    lps = np.array(list(top.values()), dtype=float)
    p = np.exp(lps - lps.max())
    p /= p.sum()
    return float(-(p * np.log(np.clip(p, 1e-12, None))).sum())


# ---- bins ---------------------------------------------------------------------------------

def quantile_cuts(pass_rates: Sequence[float], n_bins: int = N_BINS) -> list[float]:
    """Ascending cut points: the 1/n_bins, 2/n_bins, ... quantiles of the pass rates."""
    if not pass_rates:
        raise ValueError("no pass rates to compute difficulty bins from")
    qs = [k / n_bins for k in range(1, n_bins)]
    return [float(x) for x in np.quantile(np.asarray(pass_rates, dtype=float), qs)]


def bin_of(p_solve: float, cuts: Sequence[float]) -> int:
    """Bin 1 (easiest: p above every cut) .. len(cuts)+1 (hardest); ties go to the harder."""
    above = sum(1 for c in cuts if c < p_solve)
    return len(cuts) + 1 - above


def oracle_bins(pass_rates: Mapping[str, float], n_bins: int = N_BINS
                ) -> tuple[dict[str, int], list[float]]:
    """Snell et al.'s oracle difficulty: problem -> quantile bin of its pass@1, and the cuts."""
    cuts = quantile_cuts(list(pass_rates.values()), n_bins)
    return {k: bin_of(p, cuts) for k, p in pass_rates.items()}, cuts


# ---- estimators ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Estimate:
    """A difficulty estimate: the bin (None when unknown), the solve rate behind it, and
    what the estimate cost (the probe's generations and completion tokens)."""

    bin: int | None
    p_solve: float | None
    source: str  # oracle | predicted | learned | none
    reason: str = ""
    features: dict[str, float] = field(default_factory=dict)
    probe_generations: int = 0
    probe_tokens: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"bin": self.bin, "p_solve": self.p_solve, "source": self.source,
                "reason": self.reason, "features": self.features,
                "probe_generations": self.probe_generations, "probe_tokens": self.probe_tokens}


class DifficultyEstimator(Protocol):
    source: str

    def estimate(self, text: str, signals: Signals | None) -> Estimate: ...


def text_key(text: str) -> str:
    """The key oracle tables use for a problem: a hash of its whitespace-normalised text."""
    return hashlib.sha256(" ".join(text.split()).encode()).hexdigest()[:16]


class OracleDifficulty:
    """Bins from measured pass@1 (keyed by `text_key(problem)`); needs no probe."""

    source = "oracle"

    def __init__(self, pass_rates: Mapping[str, float], cuts: Sequence[float] = DEFAULT_CUTS):
        self.pass_rates = dict(pass_rates)
        self.cuts = list(cuts)

    def estimate(self, text: str, signals: Signals | None) -> Estimate:
        p = self.pass_rates.get(text_key(text))
        if p is None:
            return Estimate(None, None, self.source, "no oracle pass@1 for this problem")
        return Estimate(bin_of(p, self.cuts), p, self.source, f"measured pass@1 {p:.2f}")


def heuristic_p_solve(features: Mapping[str, float]) -> float:
    """The fixed rule: the mean of the verifier's mean score and the answers' agreement."""
    return 0.5 * (features["verifier_mean"] + features["agreement"])


class PredictedDifficulty:
    """Bins from probe signals by a fixed rule (no fitting): `heuristic_p_solve` on the
    pass@1 cuts, or, with `statistic` (a policy fitted from a bank), that probe feature on
    its own quantile cuts (agent.banks.policy_fit), the scale it was fitted on."""

    source = "predicted"

    def __init__(self, cuts: Sequence[float] = DEFAULT_CUTS,
                 statistic: str | None = None) -> None:
        self.cuts = list(cuts)
        self.statistic = statistic

    def estimate(self, text: str, signals: Signals | None) -> Estimate:
        if signals is None or signals.n == 0:
            return Estimate(None, None, self.source, "no probe signals")
        f = signals.features()
        if self.statistic is not None:
            x = f[self.statistic]
            return Estimate(bin_of(x, self.cuts), None, self.source,
                            f"{self.statistic} {x:.3f} on the probe's cuts", f)
        p = heuristic_p_solve(f)
        return Estimate(bin_of(p, self.cuts), p, self.source,
                        f"verifier mean {f['verifier_mean']:.2f}, agreement "
                        f"{f['agreement']:.2f} -> p {p:.2f}", f)


class LearnedDifficulty:
    """Bins from a fitted predictor (agent.control.predictor.DifficultyModel)."""

    source = "learned"

    def __init__(self, model: DifficultyModel) -> None:
        self.model = model

    def estimate(self, text: str, signals: Signals | None) -> Estimate:
        if signals is None or signals.n == 0:
            return Estimate(None, None, self.source, "no probe signals")
        f = {**signals.features(), **text_features(text)}
        p = self.model.predict(f)
        return Estimate(bin_of(p, self.model.cuts), p, self.source,
                        f"learned predictor v{self.model.version} -> p {p:.2f}", f)
