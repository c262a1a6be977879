"""A bounded fuzz pass over the service's OpenAPI description (schemathesis + hypothesis): no request gets a 5xx.

The schemathesis pytest plugin is not used (it does not load under this pytest);
each operation's hypothesis strategy is driven directly against the real server.
"""

from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402

from emotune.serving.predictor import Predictor  # noqa: E402
from emotune.serving.service import Limits, create_app  # noqa: E402

EXAMPLES = 20  # per operation and mode: /health, /model, /predict x valid-by-schema, invalid-by-schema


@pytest.mark.slow
def test_no_request_from_the_schema_gets_a_5xx(text_run, live):
    app = create_app(Predictor.load(text_run.path / "model"), Limits(max_body_bytes=64 * 1024, max_texts=16))
    seen: dict[str, set[int]] = {}
    with live(app) as url:
        schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
        operations = [result.ok() for result in schema.get_all_operations()]
        assert {op.path for op in operations} >= {"/predict", "/health", "/model"}
        # an operation without inputs has nothing to break: negative mode only for POST /predict
        runs = [(op, mode) for op in operations for mode in schemathesis.GenerationMode
                if op.path == "/predict" or mode == schemathesis.GenerationMode.POSITIVE]
        for op, mode in runs:

            @given(case=op.as_strategy(mode))
            @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
            def check(case):
                response = case.call(base_url=url, timeout=30)
                seen.setdefault(f"{op.method.upper()} {op.path}", set()).add(response.status_code)
                assert response.status_code < 500, (case.method, case.path, case.body, response.text[:300])
                assert "Traceback" not in response.text

            check()
    assert 200 in seen["POST /predict"], seen  # the fuzzer did reach the model
    assert any(400 <= code < 500 for code in seen["POST /predict"]), seen  # and sent it bad requests
