"""Charts and a pull-request-ready report.md from allocprof's JSON (docs/json-schema.md).

One job per module: `model` reads the JSON, `units` formats numbers, `style` is the shared look,
`output` writes files into the report directory, `chart_*` draw one chart each and return the
matplotlib Figure, `stacks` shortens call stacks, `markdown` writes report.md, `cli` drives it all.
"""
