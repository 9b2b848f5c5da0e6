"""Studies: whole analyses built from the library (simulate, fit, evaluate), each returning its figures.

- :mod:`calolab.studies.reconstruction`: baselines and networks trained and tested on the same events.
"""
