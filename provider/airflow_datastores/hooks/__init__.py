"""Airflow hooks that the official providers do not have."""
