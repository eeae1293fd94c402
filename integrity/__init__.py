"""Integrity (防造假): offline scans held for a hub's review, anomalies flagged, who was online
when, and an audit of who printed a diner's card. See docs/integrity.md."""
