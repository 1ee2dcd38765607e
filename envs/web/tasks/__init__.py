"""Web tasks: the task interface (`base`), MiniWoB++ pages (`miniwob`), user sites (`site`),
and the registry of task names and suites (`registry`)."""
