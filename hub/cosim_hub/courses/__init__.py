"""Courses in the nbgrader style: rosters -> hub groups and roles, and an exchange service."""
