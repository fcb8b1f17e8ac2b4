"""gorules: a lint and policy engine for Go repositories."""

__version__ = "0.1.0"
