"""agent.math."""
