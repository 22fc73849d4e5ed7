"""A property-based fuzzer (schemathesis) against each service's OpenAPI document.

Each service runs for real (uvicorn in a thread, lifespan started: MongoDB, RabbitMQ and the object
store of this test's isolated deployment). Every operation gets a few generated requests with a token
holding every role, so they reach the handlers. No answer may be a 5xx, use an undocumented status or
content type, or break its documented schema.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Iterator

import hypothesis
import pytest
import schemathesis

# schemathesis loads its OpenAPI modules on first use: loaded here instead, before any served app's
# thread runs. Python 3.11 can fail compiling in two threads at once ("AST constructor recursion depth
# mismatch", CPython gh-106905), and pytest compiles a plugin's modules itself to rewrite their asserts.
import schemathesis.specs.openapi.schemas
import uvicorn
from hypothesis import HealthCheck, given
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from compressor_contracts import SERVICES
from compressor_kit.auth import ALL_ROLES
from compressor_kit.http import create_app
from compressor_kit.testing.ports import free_port

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(300),
    # schemathesis draws with `random` inside its strategies; nothing for this project to act on
    pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning"),
]

MAX_EXAMPLES = 30  # per operation, valid and invalid: ~80 operations, about a minute on two cores in all
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


class ServedApp:
    """The app under uvicorn on its own event loop in a thread, lifespan on."""

    def __init__(self, app) -> None:
        self.port = free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, lifespan="on", log_config=None)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="fuzzed-service", daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ServedApp:
        self.thread.start()
        started = threading.Event()

        def watch() -> None:
            while self.thread.is_alive() and not self.server.started:
                self.thread.join(0.05)
            started.set()

        threading.Thread(target=watch, daemon=True).start()
        assert started.wait(60), "the service did not start"
        assert self.server.started, "the service failed to start"
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(30)


@pytest.fixture
def served(request, test_settings) -> Iterator[tuple[ServedApp, object]]:
    definition = importlib.import_module(f"{request.param}_service.app").SERVICE
    app = create_app(definition, test_settings)
    with ServedApp(app) as server:
        yield server, app


def fuzz_operation(operation, base_url: str, headers: dict[str, str]) -> None:
    # Valid requests reach the handlers; invalid ones (wrong types, out-of-range, unknown fields) must be refused
    # with a documented 4xx, never a 5xx.
    strategy = operation.as_strategy(GenerationMode.POSITIVE) | operation.as_strategy(GenerationMode.NEGATIVE)

    @given(case=strategy)
    @hypothesis.settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
    )
    def run(case) -> None:
        response = case.call(base_url=base_url, headers=headers, timeout=30)
        case.validate_response(response, checks=CHECKS, headers=headers)

    run()


@pytest.mark.parametrize("served", SERVICES, indirect=True)
def test_no_operation_answers_a_5xx_or_breaks_its_schema(served, tokens):
    server, app = served
    schema = schemathesis.openapi.from_dict(app.openapi_schema.to_schema())
    headers = {"Authorization": f"Bearer {tokens.mint('fuzz-user', [str(role) for role in ALL_ROLES])}"}
    failures = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        try:
            fuzz_operation(operation, server.base_url, headers)
        except Exception as failure:  # collect every operation's failure, not only the first
            failures.append(f"{operation.method.upper()} {operation.path}:\n{failure}")
    assert operations > 0
    assert not failures, "\n\n".join(failures)
