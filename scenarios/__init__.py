"""Scenarios: each module runs one communication pattern end to end and reports the evidence.

A scenario module has a docstring (what the pattern is, what to look at),
`run(...) -> ScenarioResult` and `render(result, console)`. The CLI
(`python -m scenarios`) and the integration tests call the same `run()`.
"""
