"""Example cim_twin indicator plugin: buildings over 10 m."""

__version__ = "0.1.0"
