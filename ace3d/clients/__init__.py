"""Callers of the service that ship outside the model archive: the `ace3d client` command (the ace3d-client
distribution plus overlays). The load test is Locust's, in bench/locust."""
