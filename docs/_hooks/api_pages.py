"""MkDocs hook: one API page per package of keras_compact, from the source tree.

The pages are generated at build time (nothing to keep in step by hand): a
module moved, added or removed changes the API section on the next build, and
a docstring mkdocstrings cannot render fails `mkdocs build --strict`. Private
modules (`_name.py`) are left out.
"""

import os

from mkdocs.structure.files import File

PACKAGE = "keras_compact"
API_DIR = "api"


def _modules(root):
    """{page name: [dotted module names]}, one page per package."""
    pages = {}
    base = os.path.join(root, PACKAGE)
    for folder, dirs, files in os.walk(base):
        dirs[:] = sorted(d for d in dirs if not d.startswith(("_", ".")) and
                         os.path.isfile(os.path.join(folder, d, "__init__.py")))
        relative = os.path.relpath(folder, root).replace(os.sep, ".")
        names = [relative] if "__init__.py" in files else []
        names += [f"{relative}.{f[:-3]}" for f in sorted(files)
                  if f.endswith(".py") and not f.startswith("_")]
        if names:
            page = relative.split(".", 1)[1] if "." in relative else PACKAGE
            pages[page] = names
    return dict(sorted(pages.items(), key=lambda item: (item[0] != PACKAGE, item[0])))


def _root(config):
    return os.path.dirname(os.path.abspath(config["config_file_path"]))


def on_config(config):
    pages = _modules(_root(config))
    config["extra"]["api_pages"] = pages
    section = [{"Overview": f"{API_DIR}/index.md"}]
    section += [{name: f"{API_DIR}/{name}.md"} for name in pages]
    for entry in config["nav"]:
        if isinstance(entry, dict) and "API reference" in entry:
            entry["API reference"] = section
    return config


def on_files(files, config):
    pages = config["extra"]["api_pages"]
    index = ["# API reference", "",
             "Generated from the docstrings of every public module "
             f"(`docs/_hooks/api_pages.py`), one page per package.", ""]
    for name, modules in pages.items():
        index.append(f"- [{name}]({name}.md): " + ", ".join(f"`{m}`" for m in modules))
        body = [f"# `{PACKAGE if name == PACKAGE else PACKAGE + '.' + name}`", ""]
        body += [f"::: {module}\n" for module in modules]
        files.append(File.generated(config, f"{API_DIR}/{name}.md", content="\n".join(body)))
    files.append(File.generated(config, f"{API_DIR}/index.md", content="\n".join(index) + "\n"))
    return files
