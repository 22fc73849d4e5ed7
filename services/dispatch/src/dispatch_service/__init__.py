"""The dispatch service. Phases 1-2: engineer matching and scheduling, remote pre-diagnosis and
service commitments (SLA).
"""
