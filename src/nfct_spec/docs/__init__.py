"""The specification document: generated from the chapters, the catalogue, the claims table,
the action docstrings and the latest results, as Markdown and as a static HTML site."""
