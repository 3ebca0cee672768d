"""Sub-commands of the microscout command line, one module each (add_parser + handler)."""
