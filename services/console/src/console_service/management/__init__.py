"""The manager (phases 7-9): the KPI dashboard, reports, the review queue and management alerts."""
