"""Inspections: one per job and work round, recorded by an inspector and evaluated against the template."""
