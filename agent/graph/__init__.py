"""agent.graph.build."""
