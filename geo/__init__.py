"""Analysis library of the social-assistance facility planner (no web code).

Modules take explicit arguments and never read settings; only ``app/`` reads
configuration.
"""

__version__ = "0.1.0"
