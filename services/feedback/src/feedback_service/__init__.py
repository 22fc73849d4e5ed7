"""The feedback service. Phases 8-9: customer notifications, satisfaction survey, internal review
and closing the job.
"""
