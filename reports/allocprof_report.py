#!/usr/bin/python3
"""Entry point `allocprof report` runs: draws the charts and writes report.md from the JSON it wrote.
Usage and exit codes: see allocprof_reports/cli.py; the package sits beside this file."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from allocprof_reports.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
