"""Event configuration: stack settings, the participant roster and the naming plan."""
