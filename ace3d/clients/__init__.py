"""Callers of the service that ship outside the model archive: the `ace3d client` command (the ace3d-client
distribution plus overlays) and the load test."""
