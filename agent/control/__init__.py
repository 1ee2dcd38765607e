"""agent.control."""
