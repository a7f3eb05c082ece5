"""Scripted farm experiments: scenario files and their steps, the load generator, the runner, the figures
(catalogued in ``catalogue``) and the checks behind them, and the reports a run leaves."""
