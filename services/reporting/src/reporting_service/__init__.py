"""The reporting service. Phase 7: maintenance records and reports, job timelines, KPIs, backups
and archives.
"""
