"""Exports of holdspace data for the operator (CSV, JSON)."""
