"""Shared pieces of the bench scripts (bench/*.py): servers, processes, HTTP, settings overlays.

Nothing here is a bench script itself, which is why it lives below bench/ rather than in it:
`make bench` runs every bench/*.py.
"""
