"""Local tooling around serving, never shipped in a model archive: building the archive (archive, served: what
of ace3d it carries), running TorchServe on this machine (server), and finding the project's files (project)."""
