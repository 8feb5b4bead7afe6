"""Backends behind this stage's contracts, chosen by a mode string in the stage's factory."""
