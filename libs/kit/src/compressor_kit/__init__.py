"""Shared service kit: everything the six services have in common, written once."""
