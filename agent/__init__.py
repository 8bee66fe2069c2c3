"""The controller: the research loop, its proposers, git, and the command line."""
