"""Offline jobs: synthetic data with ground truth (synth), training the default model (train) and building
a concept bank (build_bank)."""
