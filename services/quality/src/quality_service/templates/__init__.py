"""Inspection templates: the performance indicators checked after a repair, per compressor type and model."""
