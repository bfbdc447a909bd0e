"""The side-by-side benchmark: ``python -m skae.benchmark`` (see ``--help``)."""
