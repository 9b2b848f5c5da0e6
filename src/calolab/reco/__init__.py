"""Reconstruction: features -> classical baselines and neural networks -> predictions files."""
