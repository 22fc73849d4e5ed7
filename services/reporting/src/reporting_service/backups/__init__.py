"""Backups of every service database to object storage, retention, and restore."""
