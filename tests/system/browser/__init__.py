"""A real JupyterLab in a real Chromium, for tests that need what a student sees (see harness.py)."""
