"""`make demo`: drives the running services through their public HTTP APIs and shows what happens."""
