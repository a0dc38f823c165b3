"""Serving: the transport-neutral service layer (service, protocol), packaging for TorchServe (archive), a
local server (server), and the thin gRPC client and load test (client, loadtest; no torch)."""
