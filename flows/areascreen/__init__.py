"""areascreen: screen small statistical areas and publish the municipalities eligible for a grant."""

__version__ = "0.1.0"
