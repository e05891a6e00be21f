"""Organizer-side access: join codes, the portal's participant directory, printed handouts."""
