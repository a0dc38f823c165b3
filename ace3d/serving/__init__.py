"""Serving: what a model archive ships besides the method and the models: the transport-neutral service layer
(service), the request contract (protocol) and the self-check (quality). The thin gRPC client and the load test
(client, loadtest; no torch) still live here until they move out; the archive's tooling is in ace3d/tooling."""
