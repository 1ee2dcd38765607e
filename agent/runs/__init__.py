"""agent.runs."""
