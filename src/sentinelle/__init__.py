"""Sentinelle: ICT security incident reporting for ITU Resolutions 64, 130 and 174."""

__version__ = "0.1.0"
