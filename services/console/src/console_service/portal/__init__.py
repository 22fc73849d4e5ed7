"""The customer portal: customers follow, approve and review their own jobs (api.py); pure rules in domain.py."""
