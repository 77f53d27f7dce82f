"""Fakes for outside systems: HTTP fake servers and git repository builders."""
