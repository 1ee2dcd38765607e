"""worldmodel.web."""
