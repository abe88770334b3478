"""fpops: ops automation for the FootballPrediction platform."""

__version__ = "0.1.0"
