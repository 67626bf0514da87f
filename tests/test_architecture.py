"""rooflib's import direction: imports point down the layers, presentation comes last.

Walks every module of `rooflib/` with `ast` (nothing is imported or run) and fails on

* an import that runs UP the layers below (a catalog importing the roofline, the roofline
  importing a chapter module, a chapter module importing an explorer);
* a computing module (every layer below presentation) importing matplotlib, ipywidgets, IPython,
  `rooflib.plotting`, `rooflib.reports`, `rooflib.explore` or `rooflib.course`;
* a module importing another module's underscore name (`from .roofline import _decode`, or
  `roofline._decode` on an imported module): private kernels belong to their module.

Layers, lowest first (CONTRIBUTING.md, "Import direction"). Imports within a layer are free:
chapter modules build on one another. A new module must be given a layer here.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "rooflib"

LAYERS = [
    # 0: errors, units and number formats: depend on nothing else in rooflib
    {"errors", "units", "formats"},
    # 1: the cited catalogs
    {"hardware", "models"},
    # 2: what the step is built from, and the generic solver
    {"kv", "attention", "collectives", "achievable", "solve"},
    # 3: the one step builder
    {"step"},
    # 4: the decode step
    {"roofline"},
    # 5: chapter modules (and the data and asides they own)
    {"speculative", "context", "moe", "pipeline", "schedules", "training", "lifetime", "prices", "price_sheets",
     "memory_tiers", "memory_trade", "feistel", "reality", "measurements", "microbench", "serving", "energy",
     "estimate", "published", "service", "queueing"},
    # 6: presentation: drawings and text reports of what the layers below compute
    {"plotting", "reports"},
    # 7: explorers, the course machinery (rooflib/course: answer keys, checks, variants, cards, Leitner
    # boxes, the card evaluator) and the package's front
    {"explore", "course", "__init__"},
]
PRESENTATION = 6
#: Outside packages a computing module must never import.
PRESENTATION_PACKAGES = {"matplotlib", "ipywidgets", "IPython"}

#: Known exceptions, each with the reason. Keep this short: an entry is a debt, not a design.
ALLOWED_PRIVATE: set = set()


def _layer_of(name: str) -> int:
    top = name.split(".")[0]
    for i, layer in enumerate(LAYERS):
        if top in layer:
            return i
    raise KeyError(name)


def _modules():
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__" and len(parts) > 1:
            parts = parts[:-1]
        yield ".".join(parts), path


def _resolve(module: str, node: ast.ImportFrom) -> str | None:
    """The rooflib module (dotted, relative to the package) an ImportFrom refers to, or None."""
    if node.level == 0:
        if node.module and (node.module == "rooflib" or node.module.startswith("rooflib.")):
            return node.module[len("rooflib."):] if node.module != "rooflib" else ""
        return None
    package = module.split(".")
    # a module's package is everything but its last part; a package's __init__ is the package itself
    base = package[:-1] if not (ROOT / Path(*package)).is_dir() else package
    base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
    return ".".join([*base, *([node.module] if node.module else [])])


def _imports(module: str, tree: ast.AST):
    """(target rooflib module or None, outside top-level package or None, names, line) per import."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("rooflib"):
                    yield alias.name[len("rooflib."):], None, [], node.lineno
                else:
                    yield None, alias.name.split(".")[0], [], node.lineno
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(module, node)
            names = [a.name for a in node.names]
            if target is None:
                yield None, (node.module or "").split(".")[0], names, node.lineno
            elif target == "" or (ROOT / Path(*target.split("."))).is_dir() and not target.startswith("."):
                # `from . import x` / `from .explore import y`: each name may be a submodule
                for n in names:
                    sub = f"{target}.{n}" if target else n
                    path = ROOT / Path(*sub.split("."))
                    yield (sub if path.with_suffix(".py").exists() or path.is_dir() else target), None, [n], \
                        node.lineno
            else:
                yield target, None, names, node.lineno


def _module_aliases(module: str, tree: ast.AST) -> dict[str, str]:
    """Local names bound to rooflib modules (`from . import pipeline as pl` -> {'pl': 'pipeline'})."""
    out = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            target = _resolve(module, node)
            if target is None:
                continue
            for a in node.names:
                sub = f"{target}.{a.name}" if target else a.name
                p = ROOT / Path(*sub.split("."))
                if p.with_suffix(".py").exists() or p.is_dir():
                    out[a.asname or a.name] = sub
    return out


MODULES = dict(_modules())


def test_every_module_has_a_layer():
    missing = [m for m in MODULES if not any(m.split(".")[0] in layer for layer in LAYERS)]
    assert not missing, f"give these modules a layer in tests/test_architecture.py: {missing}"


def _violations():
    up, presentation, private = [], [], []
    for module, path in MODULES.items():
        if not any(module.split(".")[0] in layer for layer in LAYERS):
            continue  # test_every_module_has_a_layer names it
        tree = ast.parse(path.read_text(), filename=str(path))
        mine = _layer_of(module)
        for target, outside, names, line in _imports(module, tree):
            where = f"rooflib/{path.relative_to(ROOT)}:{line}"
            if target is not None and target != "" and any(target.split(".")[0] in la for la in LAYERS):
                top = target.split(".")[0]
                if top != module.split(".")[0] and _layer_of(target) > mine:
                    up.append(f"{where}: {module} (layer {mine}) imports {target} (layer {_layer_of(target)})")
                if mine < PRESENTATION and _layer_of(target) >= PRESENTATION:
                    presentation.append(f"{where}: computing module {module} imports {target}")
                for n in names:
                    if n.startswith("_") and not n.startswith("__") and top != module.split(".")[0] \
                            and (module, top, n) not in ALLOWED_PRIVATE:
                        private.append(f"{where}: {module} imports {target}.{n}")
            if outside in PRESENTATION_PACKAGES and mine < PRESENTATION:
                presentation.append(f"{where}: computing module {module} imports {outside}")
        aliases = _module_aliases(module, tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                    and node.value.id in aliases and node.attr.startswith("_") and not node.attr.startswith("__"):
                top = aliases[node.value.id].split(".")[0]
                if top != module.split(".")[0] and (module, top, node.attr) not in ALLOWED_PRIVATE:
                    private.append(f"rooflib/{path.relative_to(ROOT)}:{node.lineno}: {module} uses "
                                   f"{aliases[node.value.id]}.{node.attr}")
    return up, presentation, private


VIOLATIONS = _violations()


@pytest.mark.parametrize("kind,index", [("imports up the layers", 0),
                                        ("presentation imported by computing modules", 1),
                                        ("another module's underscore names", 2)])
def test_import_direction(kind, index):
    found = VIOLATIONS[index]
    assert not found, f"{kind}:\n" + "\n".join(found)


def test_the_walk_sees_what_it_must():
    """The walker itself: it finds imports in functions, relative packages and module aliases."""
    src = ("from .roofline import decode_step\n"
           "from . import pipeline as pl\n"
           "def f():\n    import matplotlib\n    return pl._stages\n")
    tree = ast.parse(src)
    found = list(_imports("moe", tree))
    assert ("roofline", None, ["decode_step"], 1) in found
    assert ("pipeline", None, ["pipeline"], 2) in found
    assert (None, "matplotlib", [], 4) in found
    assert _module_aliases("moe", tree) == {"pl": "pipeline"}
    assert _resolve("explore.base", ast.parse("from ..roofline import x").body[0]) == "roofline"
    assert _resolve("explore", ast.parse("from .base import x").body[0]) == "explore.base"
    assert _resolve("course.answers.ch01", ast.parse("from ...roofline import x").body[0]) == "roofline"
    assert _resolve("course.answers.ch01", ast.parse("from ..variants import x").body[0]) == "course.variants"
    assert _layer_of("course.answers.ch01") > _layer_of("reports")
    assert _layer_of("explore.moe") > _layer_of("moe") > _layer_of("roofline") > _layer_of("errors")


# Nouns by position, options by keyword (CONTRIBUTING.md): in the chapter modules, precisions, rates,
# efficiencies, prices of options, policies and flags come after `*`, so adding an option never
# shifts a call. The core (roofline, speculative, estimate, collectives) is held to it by its own tests.
KEYWORD_ONLY_MODULES = ["context", "kv", "moe", "pipeline", "schedules", "prices", "price_sheets", "memory_tiers",
                        "memory_trade", "training", "reality", "serving", "energy", "service", "queueing"]
OPTION_NAMES = {
    # precisions
    "dtype", "kv_dtype", "math_dtype", "expert_dtype", "dispatch_dtype", "combine_dtype",
    # rates, links and efficiencies
    "bandwidth", "latency", "links", "scaleout_bandwidth", "domain", "width", "tokens_per_step",
    "index_bytes_per_token", "index_flops_per_token", "tokens_per_param", "reads",
    "prefill_mfu", "train_mfu", "decode_mfu", "cache_hit_fraction",
    # prices of options
    "dollars_per_chip_hour", "dram_scale", "flash_scale",
    # policies and flags
    "overlap", "attention", "recompute", "store_scores", "interleave", "kind", "seed", "fit",
}


def _public_functions():
    import importlib
    import inspect

    for name in KEYWORD_ONLY_MODULES:
        module = importlib.import_module(f"rooflib.{name}")
        for fname, f in vars(module).items():
            if not fname.startswith("_") and inspect.isfunction(f) and f.__module__ == module.__name__:
                yield f"{name}.{fname}", inspect.signature(f)


def test_options_are_keyword_only():
    positional = [f"{name}({p.name})" for name, sig in _public_functions() for p in sig.parameters.values()
                  if p.name in OPTION_NAMES and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    assert not positional, f"options that must come after `*`: {positional}"


def test_keyword_only_walk_sees_the_options():
    seen = {p.name for _, sig in _public_functions() for p in sig.parameters.values()}
    assert {"dtype", "kv_dtype", "dispatch_dtype", "combine_dtype", "overlap"} <= seen
