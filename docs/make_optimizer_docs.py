"""Print docs/optimizers.md from the optimizer modules' docstrings (they are the definitions)."""

import importlib

MODULES = [("random", "_random"), ("ga", "_ga"), ("pso / ipso", "_pso"), ("aquila", "_aquila"), ("lwaro", "_lwaro"), ("tpe", "_tpe")]

HEADER = """# Optimizers

Every optimizer works in the unit box `[0, 1]^d`, minimises, and follows the ask/tell contract of
`emotune.search.optimizers._base` (`ask_batch`/`tell_batch`, `state_dict`/`load_state_dict`).
A `Space` maps the box to typed parameters; `Study` negates values for maximisation.
Failed trials (`nan`/`inf`) count as the worst value.

This page is generated from the module docstrings, which are the definitions:
`.venv/bin/python docs/make_optimizer_docs.py > docs/optimizers.md`.
"""


def main() -> None:
    parts = [HEADER]
    for title, module in MODULES:
        doc = importlib.import_module(f"emotune.search.optimizers.{module}").__doc__ or ""
        parts.append(f"## `{title}` (`src/emotune/search/optimizers/{module}.py`)\n\n{doc.strip()}\n")
    print("\n".join(parts))


if __name__ == "__main__":
    main()
