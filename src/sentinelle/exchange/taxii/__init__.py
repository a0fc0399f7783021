"""TAXII 2.1 server: see collections.py for what is served, views.py for the protocol."""
