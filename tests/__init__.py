"""The system's own tests (a regular package: some wheels install a top-level `tests` package of
their own, gmqtt's among them, which would otherwise shadow this one)."""
