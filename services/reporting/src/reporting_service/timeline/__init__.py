"""The job timeline read model: every job event in order, the time spent per phase, where a job is now."""
