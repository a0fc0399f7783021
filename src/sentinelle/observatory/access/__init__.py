"""Access observatory probe: public sites measured from a vantage point against a control."""
