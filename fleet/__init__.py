"""The fleet: an event stack and a stack per participant, driven through Pulumi's Automation API.

`python -m fleet --help` lists the verbs. Orchestration (fleet.orchestrator) is written against
the small `Stacks` protocol (fleet.stacks); fleet.pulumi_stacks adapts pulumi.automation to it.
"""
