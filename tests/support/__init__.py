"""Helpers shared by the test suite: provider stubs and payload builders."""

import os

CI = os.environ.get("CI", "").lower() == "true"
