"""Catalog schema revisions, oldest first; written by hand and never edited once shipped."""
