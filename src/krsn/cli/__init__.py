"""The ``krsn`` command line: one module per noun, calling the same services as the API."""
