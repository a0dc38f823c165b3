"""Serving: what a model archive ships besides the method and the models: the transport-neutral service layer
(service), the request contract (protocol) and the self-check (quality). The callers are in ace3d/clients (the
`ace3d client` command; no torch), the archive's tooling is in ace3d/tooling."""
