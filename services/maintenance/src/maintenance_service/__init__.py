"""The maintenance service. Phases 3-5: on-site diagnosis, maintenance plan, execution with
customer progress, and rework.
"""
