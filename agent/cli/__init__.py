"""The `worldplan` command line: plain command functions, registered in agent.cli.app."""
