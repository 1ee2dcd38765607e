"""The agent graph (LangGraph): propose -> estimate -> decide -> act | revise | branch ->
execute, looping until the task is done, the step limit or the budget.

    graph = build_graph().compile(checkpointer=saver)
    await graph.ainvoke(initial_state(...), config={"configurable": {"thread_id": t},
                        "recursion_limit": recursion_limit(max_steps, ...)}, context=ctx)

The nodes and routers are agent.graph.nodes; the state is agent.graph.state.AgentState;
models, environment, budget and trace store come in as `AgentContext` (the runtime
context). With a checkpointer, `ainvoke(None, same thread_id)` resumes an interrupted
episode from its last finished node (each node's checkpoint is written before the next
node starts). Not handled here: what the nodes do.
"""

from __future__ import annotations

from typing import Any, cast

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph

from worldplan.agent.graph import nodes as n
from worldplan.agent.graph.nodes import AgentContext
from worldplan.agent.graph.state import AgentState

NODES_PER_STEP = 5  # propose, estimate, decide, a route, execute


def build_graph() -> StateGraph[AgentState, AgentContext, AgentState, AgentState]:
    g = StateGraph(AgentState, context_schema=AgentContext)
    for name, fn in (("start", n.start), ("propose", n.propose), ("estimate", n.estimate),
                     ("decide", n.decide), ("act", n.act), ("revise", n.revise),
                     ("branch", n.branch), ("execute", n.execute)):
        g.add_node(name, fn)  # type: ignore[call-overload]
    g.add_edge(START, "start")
    g.add_conditional_edges("start", n.should_continue, ["propose", END])
    g.add_conditional_edges("propose", n.should_estimate, ["estimate", END])
    g.add_edge("estimate", "decide")
    g.add_conditional_edges("decide", n.should_route, ["act", "revise", "branch"])
    for route in ("act", "revise", "branch"):
        g.add_edge(route, "execute")
    g.add_conditional_edges("execute", n.should_continue, ["propose", END])
    return g


def recursion_limit(max_steps: int, tokens: int | None = None) -> int:
    """Super-steps an episode may need: NODES_PER_STEP per real step, for as many steps as
    the step limit and the token budget allow (every step generates at least one token: its
    proposal), plus the start and the last check."""
    steps = max_steps if tokens is None else min(max_steps, tokens)
    return NODES_PER_STEP * max(1, steps) + 3


async def run_graph(ctx: AgentContext, init: AgentState | None, *, thread_id: str,
                    max_steps: int, checkpointer: BaseCheckpointSaver[Any] | None = None
                    ) -> AgentState:
    """Run (init given) or resume (init None: from the checkpoint of `thread_id`) an
    episode; returns the final state."""
    graph = build_graph().compile(checkpointer=checkpointer)
    config: RunnableConfig = {
        "configurable": {"thread_id": thread_id},
        "recursion_limit": recursion_limit(max_steps, ctx.budget.tokens_left)}
    # "sync": a node's checkpoint is written before the next node starts, so a process
    # killed mid-episode resumes at the node it was running, never earlier: the calls that
    # node had stored are asked again with the same prompts (answered from the trace),
    # and no step already made is made again on a page that may differ
    out = await graph.ainvoke(init, config=config, context=ctx,
                              durability="sync" if checkpointer is not None else None)
    return cast(AgentState, out)


async def saved_state(checkpointer: BaseCheckpointSaver[Any],
                      thread_id: str) -> AgentState | None:
    """The last checkpointed state of an episode (None when there is none)."""
    graph = build_graph().compile(checkpointer=checkpointer)
    snap = await graph.aget_state({"configurable": {"thread_id": thread_id}})
    return cast(AgentState, snap.values) if snap.values else None
