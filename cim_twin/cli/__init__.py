"""The ``cim-twin`` command line: thin; parses arguments, calls the library, prints."""
