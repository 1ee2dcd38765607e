"""agent.banks: sample banks (generate once, evaluate many): the file, its units, evaluation."""
