"""Subscriber data behind one repository interface (SQLite by default, PostgreSQL by URL)."""
