"""Environments (Gen3 data commons): their configuration, the services and images of a release, the
edits a rollout makes to their GitOps files, and where each one stands (``view.overview``)."""
