"""HTTP handlers, one module per endpoint family. They parse, call the core, answer."""
