"""Readiness for a real AWS account: offline preflight, quotas, cost, sweep and audit.

Everything here reads what the Pulumi program declares (evaluated under the mock engine by
`tools.mock_program`), so no count or name is duplicated from the components.
"""
