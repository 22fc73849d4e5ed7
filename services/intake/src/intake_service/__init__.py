"""The intake service. Phase 1 and 9: service requests from every channel, proactive maintenance,
and the customer file.
"""
