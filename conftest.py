# Workspace-wide fixtures: every test gets its own vhost, database and buckets on the real servers.
pytest_plugins = ["compressor_kit.testing"]
