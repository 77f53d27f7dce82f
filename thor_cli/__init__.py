"""Thor: the release orchestrator for Gen3's monthly multi-repository release."""

__version__ = "0.1.0"
