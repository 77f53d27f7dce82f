"""Thor's state: releases, step runs, per-repository results, the event log and the Slack outbox."""

from thor_cli.store.db import Store, open_store

__all__ = ["Store", "open_store"]
