"""The scheduled CDC function reports how far behind the change stream it ended, as an EMF line."""

from __future__ import annotations

import pytest
from leadtherm_sandboxes.salesforce.pubsub_sandbox import PubSubSandbox
from leadtherm_sandboxes.salesforce.sandbox import SalesforceSandbox

from tests.adapters.aws.conftest import Aws
from tests.adapters.aws.test_lambda_cdc import _context, deployed, org  # noqa: F401 - org and deployed are fixtures
from tests.adapters.aws.test_lambda_metrics import check_shape, emf_documents
from webhooks import lambda_intakes


def test_a_cdc_drain_writes_an_emf_line_with_the_intake_lag(
    aws: Aws,
    org: tuple[SalesforceSandbox, PubSubSandbox],  # noqa: F811
    deployed: None,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    sandbox, _ = org
    lambda_intakes.drain({}, _context(15))  # first run: LATEST, stores the tip
    for n in range(3):
        sandbox.create_lead({"Email": f"p{n}@acme.example", "Title": "CEO"})
    capsys.readouterr()
    lambda_intakes.drain({}, _context(15))
    [document] = [d for d in emf_documents(capsys.readouterr().out) if d["function"] == "intakes"]
    check_shape(document)
    assert document["crm"] == "salesforce" and document["intake"] == "salesforce-cdc"
    assert document["intake_lag_seconds"] >= 0
