"""``python -m calolab.cli ...`` runs the command line."""

from calolab.cli import main

main()
