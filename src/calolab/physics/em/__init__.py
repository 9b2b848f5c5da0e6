"""Electromagnetic interaction physics as pure numba kernels.

One module per process. Each exposes scalar ``@njit`` functions for its differential and
total cross sections (used both to integrate the transport tables and to sample
interactions) and a sampler that takes the explicit RNG state of
:mod:`calolab.sim.mc.rng`. Units: MeV, mm; cross sections per atom or per electron in mm^2,
macroscopic cross sections in 1/mm.
"""
