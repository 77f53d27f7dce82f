"""``thor serve``: FastAPI over the same plain data as the CLI. Imported only by ``thor serve`` and its tests."""
