"""The admin: dead letters per service with their reasons, and replay after a fix."""
