"""Griffe extension: doctest-style examples (`>>>` lines) render as code.

Google-style "Example:" sections of the package hold `>>>` sessions; as
plain Markdown, `[2, 3]` on the output line after `[...]` reads as a
reference link. Fencing each session as `pycon` renders it as code and keeps
`mkdocs build --strict` free of false broken references. Docstrings are not
changed on disk.
"""

import griffe


def fence_doctests(text):
    """`text` with every run of `>>>` / `...` lines and their output fenced."""
    out, in_fence, in_session, indent = [], False, False, ""
    for line in text.split("\n"):
        stripped = line.lstrip()
        if stripped.startswith("```"):
            in_fence = not in_fence
        if in_session and (not stripped or stripped.startswith("```")):
            out.append(indent + "```")
            in_session = False
        if not in_fence and not in_session and stripped.startswith(">>>"):
            indent = line[:len(line) - len(stripped)]
            out.append(indent + "```pycon")
            in_session = True
        out.append(line)
    if in_session:
        out.append(indent + "```")
    return "\n".join(out)


class DoctestFences(griffe.Extension):
    def on_instance(self, *, obj, **kwargs):
        docstring = getattr(obj, "docstring", None)
        if docstring is not None and ">>>" in docstring.value:
            docstring.value = fence_doctests(docstring.value)
