"""The quality service. Phase 6: quality inspection against performance-indicator limits, with the
rework loop.
"""
