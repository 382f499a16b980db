"""leadtherm core: the CRM-neutral model, scoring, pipeline and ports."""

__version__ = "0.1.0"
