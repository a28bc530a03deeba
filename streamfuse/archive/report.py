"""HTML timelines (see write_reports)."""
