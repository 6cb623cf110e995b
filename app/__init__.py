"""Service and command line of the planner (thin layer over :mod:`geo`)."""
