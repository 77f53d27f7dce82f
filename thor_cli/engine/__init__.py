"""The release engine: what is due (scheduler), running one step exactly once (runner), and ``tick``."""
