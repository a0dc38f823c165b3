"""Generated from proto/ace3d/v1/*.proto by scripts/proto_stubs.py (`make proto`); do not edit."""
