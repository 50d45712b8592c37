"""Loading YAML (and JSON, which is YAML) documents that come from outside: the console's
editor, ``cdg policy check``/``test`` files, dataset and policy uploads.

PyYAML builds nested collections by recursion, so a document of a few thousand nested
brackets ends in ``RecursionError`` deep inside the loader: slow, a huge traceback and a
500. The nesting is measured first on the parser's event stream (which does not recurse)
and a document deeper than ``MAX_NESTING`` is refused as invalid YAML, so every caller's
existing ``yaml.YAMLError`` handling turns it into its usual clear 4xx or exit 2.
"""

from __future__ import annotations

from typing import Any

import yaml

MAX_NESTING = 64  # levels of lists/mappings; real policies use fewer than ten

# The pure-Python loader, as yaml.safe_load uses: the same documents load as before.
_Loader = yaml.SafeLoader
# libyaml's parser, when installed, measures the nesting some hundred times faster.
_Fast: Any = getattr(yaml, "CSafeLoader", None)


class TooDeep(yaml.MarkedYAMLError):
    """A document nested deeper than ``MAX_NESTING``."""


def check_nesting(text: str) -> None:
    """Raise ``TooDeep`` (a ``yaml.YAMLError``) if ``text`` nests deeper than allowed.

    Syntax errors found on the way are raised as the parser's own ``yaml.YAMLError``.
    """
    if _Fast is not None:
        try:
            _scan(text, _Fast)
            return
        except TooDeep:
            raise
        except yaml.YAMLError:
            pass  # libyaml may refuse what the Python parser takes: let that one decide
    _scan(text, _Loader)


def _scan(text: str, loader: Any) -> None:
    depth = 0
    for event in yaml.parse(text, Loader=loader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_NESTING:
                mark: Any = event.start_mark  # libyaml's Mark has the same line/column
                raise TooDeep(problem=f"nested deeper than {MAX_NESTING} levels", problem_mark=mark)
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def load(text: str) -> Any:
    """``yaml.safe_load`` for a document from outside, refusing one nested too deep."""
    check_nesting(text)
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - a safe loader


def compose(text: str) -> yaml.Node | None:
    """``yaml.compose`` (nodes with line numbers), refusing a document nested too deep."""
    check_nesting(text)
    return yaml.compose(text, Loader=_Loader)
