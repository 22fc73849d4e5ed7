from .site import site_databases  # noqa: F401  (the fixture, for every test here)
