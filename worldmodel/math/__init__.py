"""worldmodel.math."""
