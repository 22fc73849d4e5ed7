"""The dispatcher (phases 1-2): the unassigned queue with the matcher's suggestion, assignment, the schedule."""
