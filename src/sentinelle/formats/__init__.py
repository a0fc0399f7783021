"""Date formats Django's own locale data lacks (FORMAT_MODULE_PATH); Django's files supply the
rest, name by name."""
