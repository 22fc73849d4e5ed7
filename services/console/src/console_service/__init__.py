"""The console: the staff's browser console, signed in at the identity provider, on the job events."""
