"""Phase 7: the maintenance record built from the job's events, and its report PDF."""
