"""The engineer's repair on a phone (phases 4-5, 9): the plan, the work rounds step by step, the review memo."""
