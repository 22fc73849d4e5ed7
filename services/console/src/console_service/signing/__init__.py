"""The customer signs on the engineer's phone: a plan approval on site, the acceptance of the inspected work."""
