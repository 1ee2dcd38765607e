"""worldmodel.llm."""
