"""Pure forensic analysis: paths and streams in, typed records out. Stores nothing."""
