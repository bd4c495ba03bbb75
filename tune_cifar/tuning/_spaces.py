"""Find, load and check search spaces before any trial starts.

    space = load_space("optimizers")          # a module in search_spaces/
    space = load_space("my_spaces/wide.py")   # or a user's file
    space = load_space("runs.json")           # or fixed configurations as data:
                                              # {"description": "...", "points": [{...}, ...]}
    for s in builtin_spaces(): print(s.name, s.description)

``load_space`` imports the module, reads ``DESCRIPTION`` and ``SPACE`` and checks every key
and every value or range a domain can produce against ``tune_cifar.config``; anything wrong
is a one-line ``UsageError`` naming the space and the key. ``space_record`` is what the
experiment's spec file keeps of a space: its names and its keys' Optuna distributions.
"""

from __future__ import annotations

import importlib
import importlib.util
import itertools
import json
import pkgutil
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from ray import tune
from ray.tune.search.sample import Categorical, Domain, Float, Function, Integer

from tune_cifar import search_spaces
from tune_cifar.config import TrialConfig, check_space_range, check_space_value
from tune_cifar.errors import UsageError
from tune_cifar.results import encode_distributions, observed_distributions
from tune_cifar.train import split_schedule

if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution

MAX_COMBINATIONS_CHECKED = 4096


@dataclass(frozen=True)
class SearchSpace:
    """A loaded space: Ray Tune ``params`` (domains or constants) or fixed ``points``."""

    name: str
    description: str
    source: str
    params: dict[str, Any] = field(default_factory=dict)
    points: list[dict[str, Any]] | None = None

    def describe(self) -> str:
        if self.points is not None:
            return f"{len(self.points)} fixed configurations"
        return ", ".join(f"{k}={describe_domain(v)}" for k, v in self.params.items())


def describe_domain(value: Any) -> str:
    if isinstance(value, Categorical):
        return "choice(" + ", ".join(map(str, value.categories)) + ")"
    if isinstance(value, (Float, Integer)):
        kind = type(value.get_sampler()).__name__.strip("_").lower()
        return f"{kind}({value.lower:g}, {value.upper:g})"
    if is_grid(value):
        return "grid(" + ", ".join(map(str, value["grid_search"])) + ")"
    return str(value)


def is_grid(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"grid_search"}


def builtin_spaces() -> list[SearchSpace]:
    """Every space module in ``search_spaces/``, sorted by name."""
    names = sorted(m.name for m in pkgutil.iter_modules(search_spaces.__path__))
    return [load_space(name) for name in names]


def _import_path(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"tune_cifar_user_space_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise UsageError(f"space file {path} cannot be imported (is it a .py file?)")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _import_space_module(name_or_path: str) -> tuple[ModuleType, str]:
    path = Path(name_or_path)
    is_path = path.suffix == ".py" or "/" in name_or_path
    if is_path and not path.is_file():
        raise UsageError(f"space file {path} does not exist")
    try:
        if is_path:
            return _import_path(path), str(path.resolve())
        return importlib.import_module(f"{search_spaces.__name__}.{name_or_path}"), name_or_path
    except ModuleNotFoundError as exc:
        if not is_path and exc.name == f"{search_spaces.__name__}.{name_or_path}":
            known = ", ".join(m.name for m in pkgutil.iter_modules(search_spaces.__path__))
            raise UsageError(f"unknown space {name_or_path!r}; built-in: {known}") from None
        raise UsageError(f"space {name_or_path!r} failed to import: {exc}") from None
    except UsageError:
        raise
    except Exception as exc:  # a user's module may raise anything while importing
        raise UsageError(
            f"space {name_or_path!r} failed to import: {type(exc).__name__}: {exc}"
        ) from None


def _read_points_file(path: Path) -> tuple[Any, Any, str]:
    """(SPACE, DESCRIPTION, source) of a JSON file of fixed configurations: data, never code."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise UsageError(f"space file {path} does not exist") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"space file {path} is not readable JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("points"), list):
        raise UsageError(
            f"space file {path} must hold an object with a 'points' list of "
            "configurations and a 'description'"
        )
    return data["points"], data.get("description"), str(path.resolve())


def load_space(name_or_path: str) -> SearchSpace:
    """Load a space by built-in name, ``.py`` file or ``.json`` file of points, and check it."""
    name = Path(name_or_path).stem
    if Path(name_or_path).suffix == ".json":
        space, description, source = _read_points_file(Path(name_or_path))
    else:
        module, source = _import_space_module(name_or_path)
        space = getattr(module, "SPACE", None)
        description = getattr(module, "DESCRIPTION", None)
    if not isinstance(description, str):
        raise UsageError(f"space {name!r} has no DESCRIPTION string")
    if isinstance(space, list) and not space:
        raise UsageError(f"space {name!r} lists no configurations: its points are an empty list")
    if isinstance(space, list):
        wrong = next((i for i, p in enumerate(space) if not isinstance(p, dict)), None)
        if wrong is not None:
            raise UsageError(
                f"space {name!r}, configuration {wrong + 1}: must be an object of "
                f"{{key: value}}, not {type(space[wrong]).__name__}"
            )
        for i, point in enumerate(space):
            _check(name, lambda p=point: split_schedule(p), f"configuration {i + 1}")
        return SearchSpace(name, description, source, points=[dict(p) for p in space])
    if not isinstance(space, dict):
        raise UsageError(f"space {name!r}: SPACE must be a dict of domains or a list of configs")
    check_params(name, space)
    return SearchSpace(name, description, source, params=dict(space))


def _check(space_name: str, check: Any, where: str) -> None:
    try:
        check()
    except UsageError as exc:
        # the key (or the configuration) is named once already
        detail = str(exc).removeprefix(f"config {where}: ").removeprefix("config: ")
        raise UsageError(f"space {space_name!r}, {where}: {detail}") from None


def _values_to_check(key: str, value: Any) -> list[Any]:
    """Each value of ``key`` that stands for its domain in the combined consistency check."""
    if isinstance(value, Categorical):
        return list(value.categories)
    if is_grid(value):
        return list(value["grid_search"])
    if isinstance(value, Float):
        return [value.lower, value.upper]
    if isinstance(value, Integer):
        return [value.lower, value.upper - 1]  # randint's upper bound is exclusive
    if isinstance(value, (Function, Domain)):
        raise UsageError(
            f"key '{key}': {type(value).__name__} domains cannot be checked; "
            "use choice, uniform, loguniform, randint or grid_search"
        )
    return [value]


def check_params(space_name: str, params: dict[str, Any]) -> None:
    """Check each key's values/ranges, then configs built from them, as one-line errors."""
    candidates: dict[str, list[Any]] = {}
    for key, value in params.items():
        _check(space_name, lambda k=key, v=value: _check_key(k, v), f"key '{key}'")
        candidates[key] = _values_to_check(key, value)
    combos = itertools.islice(itertools.product(*candidates.values()), MAX_COMBINATIONS_CHECKED)
    for combo in combos:
        point = dict(zip(candidates, combo, strict=True))
        _check(space_name, lambda p=point: TrialConfig.from_dict(p), "a sampled configuration")


def _check_key(key: str, value: Any) -> None:
    if isinstance(value, (Float, Integer)):
        upper = value.upper - 1 if isinstance(value, Integer) else value.upper
        check_space_range(key, value.lower, upper)
    else:
        for v in _values_to_check(key, value):
            check_space_value(key, v)


def as_grid(space: SearchSpace) -> dict[str, Any]:
    """Params for ``--search grid``: every choice becomes a grid axis; ranges are refused."""
    grid = {}
    for key, value in space.params.items():
        if isinstance(value, (Float, Integer)):
            raise UsageError(
                f"--search grid needs discrete values, but space {space.name!r} key '{key}' is "
                f"a range ({describe_domain(value)}); use --search random or optuna"
            )
        grid[key] = tune.grid_search(value.categories) if isinstance(value, Categorical) else value
    return grid


def as_sampled(space: SearchSpace) -> dict[str, Any]:
    """Params for random or Optuna search: grid axes become uniform choices."""
    return {k: tune.choice(v["grid_search"]) if is_grid(v) else v for k, v in space.params.items()}


def space_distributions(space: SearchSpace) -> dict[str, BaseDistribution]:
    """Optuna distributions of the keys a space searches: Ray's own conversion for domains
    (grid axes as choices), categorical over the values seen for a list of fixed points."""
    from ray.tune.search.optuna import OptunaSearch

    if space.points is None:
        return OptunaSearch.convert_search_space(as_sampled(space))
    return observed_distributions(space.points)


def space_record(space: SearchSpace) -> dict[str, Any]:
    """The space as the spec file records it (``tune_cifar.results.write_spec``)."""
    return {
        "name": space.name,
        "source": space.source,
        "description": space.description,
        "summary": space.describe(),
        "distributions": encode_distributions(space_distributions(space)),
    }
