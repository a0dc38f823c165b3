"""Atomic output files, from the client distribution (one implementation): every command writes its results
whole or not at all."""

from ace3d_client.files import atomic_write, write_bytes, write_text

__all__ = ["atomic_write", "write_bytes", "write_text"]
