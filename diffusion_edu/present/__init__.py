"""Presentation: plots, animations, widgets and diagrams. Nothing below imports it."""
