"""diffusion-edu: the package behind the book *Diffusion models, proved and trained*.

Layers, each importing only the ones above it:
derivations (SymPy) -> data, schedules, processes and samplers (pure tensor functions) ->
nets (modules) -> train (the loop) -> metrics -> viz, widgets (presentation).
"""

__version__ = "0.1.0"
