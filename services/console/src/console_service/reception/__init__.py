"""Reception (phase 1): take a call, record call-backs, see the customer file."""
