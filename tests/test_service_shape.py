"""Every service has the same shape (../shared/STYLE.md): these rules are read off the source.

- MongoDB is named only in `store.py` modules.
- Domain modules know nothing of HTTP or MongoDB.
- Settings reach code through the composition root: nothing reads the environment, caches settings
  or hangs attributes on the runtime.
- No runtime parameter is typed `Any`.
- Refusals are the kit's one `Refusal` type.
"""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

from compressor_contracts import SERVICES
from compressor_kit.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted(ROOT.glob("services/*/src/*_service/**/*.py"))

# What touching a collection looks like: a database handle indexed or walked to a collection, or the
# client and database objects themselves.
COLLECTION_ACCESS = re.compile(
    r"\b(?:db|database)\s*\[|\.db\b|\.mongo\b|AsyncDatabase|AsyncCollection|AsyncMongoClient|"
    r"\bfrom pymongo(?!\.errors)\b|\bimport pymongo\b"
)


def relative(path: Path) -> str:
    return str(path.relative_to(ROOT))


def test_the_sources_are_found():
    assert len(SOURCES) > 60
    assert {p.parts[len(ROOT.parts) + 1] for p in SOURCES} == set(SERVICES)


def test_only_store_modules_touch_collections():
    offenders = [
        f"{relative(path)}:{number}: {line.strip()}"
        for path in SOURCES
        if path.name != "store.py"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if COLLECTION_ACCESS.search(line.split("#", 1)[0])
    ]
    assert not offenders, "MongoDB outside a store.py module:\n" + "\n".join(offenders)


def test_the_collection_rule_would_see_an_offender():
    touching = ('await runtime.db["jobs"].find_one({})', "doc = await uow.db.jobs.find_one()", "from pymongo import X")
    for line in touching:
        assert COLLECTION_ACCESS.search(line), line
    for line in ("from pymongo.errors import DuplicateKeyError", "job = await store.load(runtime, job_id)"):
        assert not COLLECTION_ACCESS.search(line), line


def _imports(tree: ast.AST) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", [p for p in SOURCES if p.name == "domain.py"], ids=relative)
def test_domain_modules_know_nothing_of_http_or_mongodb(path):
    tree = ast.parse(path.read_text())
    foreign = sorted(
        name
        for name in _imports(tree)
        if name.split(".")[0] in {"litestar", "pymongo", "httpx", "aio_pika", "faststream"}
        or name in {"compressor_kit.problems", "compressor_kit.http", "compressor_kit.runtime"}
    )
    assert not foreign, f"{relative(path)} imports {foreign}"
    assert "status_code" not in path.read_text(), f"{relative(path)} speaks in HTTP status codes"


def test_nothing_reads_the_environment_or_caches_settings():
    offenders = []
    for path in SOURCES:
        text = path.read_text()
        tree = ast.parse(text)
        if re.search(r"\bos\.(environ|getenv)\b", text):
            offenders.append(f"{relative(path)}: reads the environment")
        if re.search(r"setattr\(\s*runtime\b|\bruntime\._\w+\s*=", text):
            offenders.append(f"{relative(path)}: hangs an attribute on the runtime")
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id.endswith("Settings"):
                offenders.append(f"{relative(path)}:{node.lineno}: builds {node.func.id}() itself")
    assert not offenders, "\n".join(offenders)


def test_no_parameter_is_typed_any():
    offenders = []
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                for argument in [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]:
                    if argument.annotation is not None and ast.unparse(argument.annotation) == "Any":
                        offenders.append(f"{relative(path)}:{node.lineno}: {node.name}({argument.arg}: Any)")
    assert not offenders, "\n".join(offenders)


def test_refusals_are_the_kits_one_type():
    offenders = []
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and re.search(r"Refus|Error$|Problem$", node.name):
                offenders.append(f"{relative(path)}:{node.lineno}: class {node.name}")
            if isinstance(node, ast.ImportFrom) and node.module == "compressor_kit.problems":
                offenders.append(f"{relative(path)}:{node.lineno}: imports compressor_kit.problems")
    assert not offenders, "refusal types of a service's own (use compressor_kit.refusals.Refusal):\n" + "\n".join(
        offenders
    )


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_declares_its_settings_and_consumer_factories(service):
    definition = importlib.import_module(f"{service}_service.app").SERVICE
    assert issubclass(definition.settings_type, Settings)
    for factory in definition.consumers:
        assert callable(factory)


@pytest.mark.parametrize("service", SERVICES)
def test_every_collection_written_in_a_transaction_is_declared_so_it_exists_before_the_first(service):
    """`uow.db[NAME]` is a write inside a transaction; a collection that did not exist yet would be
    created by that transaction, and concurrent writers would conflict with the creation."""
    declared = set(importlib.import_module(f"{service}_service.app").SERVICE.indexes)
    undeclared = []
    for path in SOURCES:
        if path.parts[len(ROOT.parts) + 1] != service:
            continue
        names = set(re.findall(r"\buow\.db\[([A-Z_]+)\]", path.read_text()))
        if names:
            package_root = ROOT / "services" / service / "src"
            module = importlib.import_module(".".join(path.relative_to(package_root).with_suffix("").parts))
            undeclared += [f"{relative(path)}: {name}" for name in names if getattr(module, name) not in declared]
    assert not undeclared, f"not in {service}'s ServiceDefinition(indexes=...): {sorted(undeclared)}"


@pytest.mark.parametrize("path", [p for p in SOURCES if p.name == "consumers.py"], ids=relative)
def test_every_consumers_module_has_the_one_factory_signature(path):
    factories = [
        node
        for node in ast.parse(path.read_text()).body
        if isinstance(node, ast.FunctionDef) and node.name == "consumers"
    ]
    assert len(factories) == 1, f"{relative(path)} defines no `def consumers(runtime)`"
    [factory] = factories
    assert [a.arg for a in factory.args.args] == ["runtime"]
    assert ast.unparse(factory.returns) == "list[Consumer]"
    assert ast.unparse(factory.args.args[0].annotation).endswith("Runtime")


STATEFUL_CALLS = {
    "Lock", "Event", "Semaphore", "Condition", "WeakKeyDictionary", "WeakValueDictionary", "defaultdict",
    "OrderedDict", "deque", "set", "dict", "list", "Counter",
}  # fmt: skip


def _holds_state(value: ast.expr) -> bool:
    """An empty container or a lock: something that is filled or taken while the service runs."""
    if isinstance(value, ast.Dict | ast.List | ast.Set) and not getattr(value, "keys", getattr(value, "elts", [])):
        return True
    if isinstance(value, ast.Call) and not value.args:
        name = value.func.attr if isinstance(value.func, ast.Attribute) else getattr(value.func, "id", "")
        return name in STATEFUL_CALLS
    return False


def test_shared_state_lives_on_the_runtime_not_in_module_globals():
    offenders = []
    for path in SOURCES:
        for node in ast.parse(path.read_text()).body:
            value = node.value if isinstance(node, ast.Assign | ast.AnnAssign) else None
            if value is not None and _holds_state(value):
                offenders.append(f"{relative(path)}:{node.lineno}: {ast.unparse(node)[:80]}")
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and "settings" in node.name:
                if any(ast.unparse(d).split(".")[-1] in {"cache", "lru_cache"} for d in node.decorator_list):
                    offenders.append(f"{relative(path)}:{node.lineno}: caches settings in {node.name}")
    assert not offenders, "module-level state (hold it on the runtime):\n" + "\n".join(offenders)


def test_the_state_rule_would_see_an_offender():
    for source in (
        "_turns = WeakKeyDictionary()",
        "_running: set[Task] = set()",
        "_seen = {}",
        "_lock = asyncio.Lock()",
    ):
        statement = ast.parse(source).body[0]
        assert isinstance(statement, ast.Assign | ast.AnnAssign) and _holds_state(statement.value), source
    for source in ('TAGS = ["Jobs"]', "LIMITS = {'a': 1}", "CATALOGUE = load_catalogue()"):
        statement = ast.parse(source).body[0]
        assert isinstance(statement, ast.Assign) and not _holds_state(statement.value), source
