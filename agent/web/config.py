"""The web agent's settings, and the clients and models of its three roles.

`WebAgentConfig` holds every setting of a `worldplan web --strategy ...` run (stored in
Run.config, so a run can be resumed with the same settings); `AgentClients` the proposer's,
world model's and verifier's clients (one object when one server serves all three);
`make_models` builds the roles for one episode's seed; `connect_clients` the clients from
the CLI's URLs.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from worldplan.agent.web.domain import WebEnvLike, WebModels
from worldplan.agent.web.oracle_judge import OracleJudge
from worldplan.agent.web.peek_world_model import PeekingWorldModel
from worldplan.agent.web.proposer import Proposer
from worldplan.worldmodel.llm.client import LLMClient
from worldplan.worldmodel.llm.connect import connect
from worldplan.worldmodel.web.action_ranker import ActionRanker, read_ranker
from worldplan.worldmodel.web.choice_judge import ChoiceJudge
from worldplan.worldmodel.web.local_first import LocalFirstWorldModel
from worldplan.worldmodel.web.transition_examples import ExampleBank, read_example_bank
from worldplan.worldmodel.web.world_model import (
    NoWorldModel,
    PagePredictor,
    ProgressJudge,
    ProgressVerifier,
    WorldModel,
)


@dataclass
class WebAgentConfig:
    strategy: str = "reactive"
    budget_tokens: int | None = 3000  # tokens per episode, all roles (see count_prompts)
    count_prompts: bool = True  # the budget counts uncached prompt + completion tokens
    budget_generations: int | None = None
    max_steps: int = 8
    n: int = 3  # proposals per step (best-of-n, search, compute-optimal)
    expand: int = 0  # one-gesture actions added as search roots (agent.web.expansion)
    depth: int = 2  # search depth (search)
    rounds: int = 2  # revisions per step (revise)
    search: str = "beam"  # tree search of the branch route: beam | mcts
    simulations: int = 4  # MCTS simulations per branching step (search="mcts")
    policy: str = ""  # compute-optimal: web policy file ("": the bundled prior)
    proposer_tokens: int = 40  # per proposed action (tokens; the grammar's longest is ~35)
    world_model_tokens: int = 96  # per predicted change, as changed tree lines (tokens)
    temperature: float = 0.8
    verifier_mode: str = "p_yes"  # p_yes | label (reasoned verdicts)
    verifier_votes: int = 1  # label mode: verdicts sampled and averaged per imagined state
    constrained: bool = True  # vLLM structured outputs: legal actions, applicable changes
    # llm | local (local effects computed, the LLM asked for the rest: worldmodel.web.local_first)
    # | peek (the real next page from a twin page: a ceiling) | none (judge actions alone)
    world_model: str = "llm"
    world_model_examples: str = ""  # transitions file shown as worked examples ("": none)
    # llm (the progress verifier, scoring each candidate) | choice (one question over all of a
    # step's candidates: worldmodel.web.choice_judge, best-of-n only) | oracle (the task's
    # oracle picks: a ceiling, diagnostic)
    judge: str = "llm"
    judge_orders: int = 1  # choice judge: orders of the candidates averaged (position bias)
    judge_targets: bool = False  # choice judge: each action shown with its element's line
    # a fitted action ranker (worldmodel.web.action_ranker) over the choice judge's scores,
    # the page's facts and the votes (judge "choice"), or alone (judge "ranker"); "": none
    judge_ranker: str = ""
    horizon: int = 3  # steps the tokens left are shared over (agent.graph.budgets.step_allowance)
    max_attempts: int = 3  # attempts of a step whose browser crashed
    success_threshold: float = 1.0


@dataclass
class AgentClients:
    """The three roles' clients (the same object for a single server)."""

    proposer: LLMClient
    world_model: LLMClient
    verifier: LLMClient

    def distinct(self) -> list[LLMClient]:
        out: list[LLMClient] = []
        for c in (self.proposer, self.world_model, self.verifier):
            if all(c is not o for o in out):
                out.append(c)
        return out


def needs_twin(config: WebAgentConfig) -> bool:
    """Whether an episode's roles read a second page of its task (`make_models`'s twin)."""
    return config.world_model == "peek" or config.judge == "oracle"


JUDGES = ("llm", "choice", "ranker", "oracle")
ROOT = Path(__file__).resolve().parents[2]  # the project: relative ranker files resolve here
WORLD_MODELS = ("llm", "local", "peek", "none")


def check_roles(config: WebAgentConfig) -> None:
    """Raise ValueError, naming the setting, for a judge or world model that `make_models`
    cannot build for this config (checked before a run starts, and by make_models)."""
    if config.judge not in JUDGES:
        raise ValueError(f"unknown judge {config.judge!r}: {', '.join(JUDGES)}")
    if config.world_model not in WORLD_MODELS:
        raise ValueError(f"unknown world model {config.world_model!r}: "
                         f"{', '.join(WORLD_MODELS)}")
    if config.judge in ("choice", "ranker") and config.strategy != "best-of-n":
        raise ValueError(f"the {config.judge} judge ranks one level of candidates: use it "
                         f"with best-of-n, not {config.strategy!r}")
    if config.judge_ranker and config.judge not in ("choice", "ranker"):
        raise ValueError("judge_ranker: only the choice judge (or the ranker alone, judge "
                         "'ranker') rescores with a ranker")
    if config.judge == "ranker" and not config.judge_ranker:
        raise ValueError("the ranker judge needs a ranker file (judge_ranker)")
    if config.judge_ranker:
        check_ranker(ranker_file(config.judge_ranker), config)
    if config.judge_orders < 1 or (config.judge_orders > 1 and config.judge != "choice"):
        raise ValueError(f"judge_orders {config.judge_orders}: 1, or more with the choice "
                         "judge (the orders of its candidates it averages over)")
    if config.judge_targets and config.judge != "choice":
        raise ValueError("judge_targets: only the choice judge shows actions with their "
                         "elements")
    if config.judge == "oracle" and config.world_model == "peek":
        # both would replay on the one twin page at once
        raise ValueError("the oracle judge and the peek world model cannot share a twin")


def check_ranker(ranker: ActionRanker, config: WebAgentConfig) -> None:
    """Raise ValueError when the ranker cannot serve this judge: one that weighs the choice
    judge's scores needs that judge, asked as it was when the ranker was fitted (its meta's
    orders and targets); one that does not would waste the judge's call; one that weighs
    imagined pages needs a world model that imagines them."""
    name = config.judge_ranker
    if ranker.uses_world_model and config.world_model == "none":
        raise ValueError(f"{name} weighs the world model's predicted changes: use it with a "
                         "world model (local, llm or peek), not 'none'")
    imagined_by = ranker.meta.get("world_model")
    if ranker.uses_world_model and imagined_by and imagined_by != config.world_model:
        raise ValueError(f"{name} was fitted on the {imagined_by!r} world model's changes, "
                         f"not {config.world_model!r}'s: refit it "
                         "(benchmarks/imagined_ranker.py)")
    if ranker.uses_judge and config.judge == "ranker":
        raise ValueError(f"{name} weighs the choice judge's scores: use it with judge "
                         "'choice', or a ranker fitted without them")
    if not ranker.uses_judge and config.judge == "choice":
        raise ValueError(f"{name} does not weigh the choice judge's scores: use it alone "
                         "(judge 'ranker'), not after a judge call it ignores")
    fitted = ranker.meta.get("judge")
    asked = {"orders": config.judge_orders, "targets": config.judge_targets}
    if ranker.uses_judge and fitted is not None and fitted != asked:
        raise ValueError(f"{name} was fitted on a choice judge asked with {fitted}, not "
                         f"{asked}: refit it (benchmarks/action_ranker_fit.py)")


def make_models(clients: AgentClients, config: WebAgentConfig, seed: int,
                twin: WebEnvLike | None = None, *, task: str = "") -> WebModels:
    """The roles for one episode of `task`; `twin`: a second page of the task, which the
    "peek" world model (agent.web.peek_world_model) and the "oracle" judge
    (agent.web.oracle_judge) need and nothing else uses."""
    check_roles(config)
    world: PagePredictor
    judge: ProgressJudge
    if config.judge == "oracle":
        if twin is None or not task:
            raise ValueError("the oracle judge needs the task and a twin page of it")
        judge = OracleJudge(twin, seed, task)
    elif config.judge in ("choice", "ranker"):
        judge = ChoiceJudge(clients.verifier, orders=config.judge_orders,
                            targets=config.judge_targets,
                            ranker=(ranker_file(config.judge_ranker)
                                    if config.judge_ranker else None),
                            ask=config.judge == "choice")
    else:
        judge = ProgressVerifier(clients.verifier, config.verifier_mode,
                                 votes=config.verifier_votes)
    if config.world_model == "peek":
        if twin is None:
            raise ValueError("the peek world model needs a twin page of the task")
        world = PeekingWorldModel(twin, seed)
    elif config.world_model == "none":
        world = NoWorldModel()
    else:
        examples = (example_bank(config.world_model_examples)
                    if config.world_model_examples else None)
        world = WorldModel(clients.world_model, config.world_model_tokens, seed=seed,
                           constrained=config.constrained, examples=examples)
        if config.world_model == "local":
            world = LocalFirstWorldModel(world)
    return WebModels(
        Proposer(clients.proposer, config.proposer_tokens, config.temperature, seed,
                 constrained=config.constrained),
        world, judge)


@functools.lru_cache(maxsize=4)
def example_bank(path: str) -> ExampleBank:
    """The transitions file read once per process (worldmodel.web.transition_examples)."""
    return read_example_bank(Path(path))


def ranker_path(path: str) -> Path:
    """Where a ranker file is: a relative path not found from the working directory is the
    project's (agent/policies/web_ranker.json)."""
    p = Path(path)
    return p if p.is_absolute() or p.exists() else ROOT / p


@functools.lru_cache(maxsize=4)
def ranker_file(path: str) -> ActionRanker:
    """A ranker file (`ranker_path`) read once per process."""
    return read_ranker(ranker_path(path))


def connect_clients(llm_url: Sequence[str] | None, world_model_url: Sequence[str] | None = None,
                    verifier_url: Sequence[str] | None = None, *,
                    model: str | None = None) -> AgentClients:
    """Clients of the three roles: `llm_url` for all, unless a role has its own URL."""
    proposer = connect(llm_url or None, model=model)
    world = connect(world_model_url) if world_model_url else proposer
    judge = connect(verifier_url) if verifier_url else proposer
    return AgentClients(proposer, world, judge)
