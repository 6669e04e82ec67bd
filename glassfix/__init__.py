"""glassfix: machine-learned structural predictors for glasses, evaluated inside running MD."""

__version__ = "0.1.0"
