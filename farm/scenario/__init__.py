"""Scripted farm experiments: the scenario file format, its validation, and (to come) the runner."""
