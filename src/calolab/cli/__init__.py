"""The ``calolab`` command line: a thin layer that reads options, calls the library and
writes output. Each command's help text explains its options and gives an example.

Quantities take units: ``--energy 10-100GeV``, ``--thickness 2.2cm``.

One module per group of commands, each registering its commands on :data:`app`:

- :mod:`~calolab.cli.materials`: ``material``, ``detector``
- :mod:`~calolab.cli.simulation`: ``simulate``, ``demo``, ``digitize``
- :mod:`~calolab.cli.datasets`: ``inspect``, ``show``, ``windows``, ``convert``
- :mod:`~calolab.cli.reconstruction`: ``evaluate``, ``train reco|gen``, ``predict``, ``scan``, ``baseline fit|predict``
- :mod:`~calolab.cli.generation`: ``generate``, ``validate``
"""

from __future__ import annotations

from importlib import import_module

from calolab.cli.app import app, console, error_console, main

__all__ = ["GROUPS", "app", "console", "error_console", "main"]

#: the command groups in the order of ``calolab --help``; importing one registers its commands on the app
GROUPS = ("materials", "simulation", "datasets", "reconstruction", "generation")
for _group in GROUPS:
    import_module(f"calolab.cli.{_group}")
