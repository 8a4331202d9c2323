# SPDX-License-Identifier: BSD-3-Clause
"""``results-table``: a table of a stored benchmark result, read at build time.

The project rule is that every number the documentation publishes comes from a
result stored in ``benchmarks/results/``. Copying tables by hand invites
transcription errors and silent staleness, so the documentation reads them
from the Markdown reports instead::

    .. results-table:: ../../benchmarks/results/paper_seed0.md
       :section: Normalised MAE on the 100x100 test grid (lower is better)
       :columns: 0, 1, 2, 3, 4, 5
       :caption: Normalised MAE, seed 0.

``:section:`` is the text of a Markdown heading (any level) and the table is
the first one after it; ``:columns:`` keeps those columns (0-based, in that
order), all by default; ``:rows:`` keeps only the rows whose first cell
contains one of the comma-separated strings (the header is always kept). The
rendered table names its source file. A missing file, heading or table is a
build error, so a report that changes shape cannot leave stale numbers behind.
The report is a build dependency: editing it rebuilds the page.
"""

from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import directives
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective


def _split_row(line):
    cells = line.strip().strip("|").split("|")
    return [cell.strip() for cell in cells]


def read_markdown_table(path, section):
    """Header and rows of the first Markdown table after heading ``section``."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    start = None
    for i, line in enumerate(lines):
        if line.startswith("#") and line.lstrip("#").strip() == section:
            start = i + 1
            break
    if start is None:
        raise ValueError(f"no heading {section!r} in {path}")
    table = []
    for line in lines[start:]:
        if line.startswith("#"):
            break
        if line.startswith("|"):
            table.append(line)
        elif table:
            break
    if len(table) < 3:
        raise ValueError(f"no table after heading {section!r} in {path}")
    header = _split_row(table[0])
    rows = [_split_row(line) for line in table[2:]]  # table[1] is |---|
    return header, rows


class ResultsTable(SphinxDirective):
    required_arguments = 1
    has_content = False
    option_spec = {
        "section": directives.unchanged_required,
        "columns": directives.unchanged,
        "rows": directives.unchanged,
        "caption": directives.unchanged,
        "widths": directives.unchanged,
    }

    def run(self):
        relative = self.arguments[0]
        _, absolute = self.env.relfn2path(relative)
        self.env.note_dependency(absolute)
        try:
            header, rows = read_markdown_table(absolute, self.options["section"])
        except (OSError, ValueError) as exc:
            raise self.error(f"results-table: {exc}") from exc
        if "rows" in self.options:
            wanted = [s.strip() for s in self.options["rows"].split(",")]
            rows = [row for row in rows if any(w in row[0] for w in wanted)]
        if "columns" in self.options:
            keep = [int(c) for c in self.options["columns"].split(",")]
            header = [header[c] for c in keep]
            rows = [[row[c] for c in keep] for row in rows]
        # The source file, as a path from the repository root.
        repo_root = Path(self.env.srcdir).parent
        try:
            source = Path(absolute).resolve().relative_to(repo_root.resolve())
        except ValueError:
            source = Path(relative)
        caption = self.options.get("caption", "").strip()
        title = f"{caption} Source: ``{source.as_posix()}``.".strip()
        text = [f".. list-table:: {title}", "   :header-rows: 1"]
        if "widths" in self.options:
            text.append(f"   :widths: {self.options['widths']}")
        text.append("")
        for row in [header, *rows]:
            for j, cell in enumerate(row):
                text.append(f"   {'* -' if j == 0 else '  -'} {cell or ' '}")
        container = nodes.container(classes=["pmm-results-table"])
        self.state.nested_parse(StringList(text), self.content_offset, container)
        return [container]


def setup(app):
    app.add_directive("results-table", ResultsTable)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
