"""The workshop notebooks' helper module, importable from the root as notebooks.workshop.

On a notebook instance the lifecycle copies workshop.py next to the notebooks instead.
"""
