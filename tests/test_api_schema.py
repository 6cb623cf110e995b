"""Property-based tests of every operation against the OpenAPI schema (schemathesis, in-process).

Every operation is called with generated requests (valid and invalid); none may
answer with a server error, and every error must be an RFC 9457 problem.  Writes
run with the API key on a copy of the store.  Examples are bounded to keep the
run short.
"""

from __future__ import annotations

import pytest
import schemathesis
from _api_support import API_KEY, copy_store
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error

from app.main import create_app
from app.settings import ServiceSettings


@pytest.fixture(scope="module")
def api_schema(store_path, sources_dir, network_cache, tmp_path_factory):
    store = copy_store(store_path, tmp_path_factory.mktemp("schemathesis"))
    app = create_app(ServiceSettings(store=store, api_keys=[API_KEY], map_tiles=None,
                                     sources_dir=sources_dir, cache_dir=network_cache))
    return schemathesis.openapi.from_asgi("/openapi.json", app)


schema = schemathesis.pytest.from_fixture("api_schema")
CREATE = {"method": "POST", "path": "/collections/facilities/items"}
# the national endpoints compute every province of the country for each threshold and share
# asked (about a minute): tests/test_national.py calls them with chosen valid and invalid
# parameters instead of generated ones
NATIONAL = r"^/analysis/(national|cells)"


def _check(case) -> None:
    response = case.call(headers={"X-API-Key": API_KEY})
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:500]}"
    )
    if response.status_code >= 400:
        assert response.headers["content-type"][0].startswith("application/problem+json")
        assert response.json()["status"] == response.status_code
    case.validate_response(response, checks=[not_a_server_error])


@schema.exclude(**CREATE).exclude(path_regex=NATIONAL).parametrize()
@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],
)
def test_no_server_errors(case):
    _check(case)


# a create that reaches the registry costs ≈0.4 s (validation, store rewrite): no
# schema-coverage phase and fewer examples
@schema.include(**CREATE).parametrize()
@settings(
    max_examples=5,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    phases=[Phase.generate],
)
def test_create_no_server_errors(case):
    _check(case)
