"""The property catalogue, the seed claims table and the prose chapters of the specification."""
