"""worldplan."""
