"""The whole event on one machine: the Pulumi program's resources in moto, its handlers
in-process, participants who train and deploy, the FC's traffic and the leaderboard."""
