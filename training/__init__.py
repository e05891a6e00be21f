"""Lab 2 on this machine: the pre-collected data set and the three algorithms, trained locally."""
