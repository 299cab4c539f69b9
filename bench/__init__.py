"""The restricted_sessions benchmark (not a test, not shipped): ``python bench/run.py --help``."""
