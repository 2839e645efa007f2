"""Policies: intake from the policy system, eligibility for a client account, the ``policies`` claim.

The public API, used by the REST endpoint (``POST /api/v1/policies``), the CLI (``idp policies …``) and
the OIDC claims::

    issue_policy(services, document, source="api") -> Outcome      # one policy, committed, messages sent
    import_csv(services, stream, batch_size=500, progress=…) -> ImportReport
    parse_policy(document, today=…) -> PolicyInput                 # raises InvalidPolicy (400, codes)
    decide(facts, by_email=…, by_phone=…, current=…) -> Decision   # the pure eligibility rules
    claims_for(account_id) -> list[dict]                           # the ``policies`` claim
    describe_policy(policy) -> dict                                 # the admin's view
    conflicts_for(policies) -> {id: [Conflict]}                     # whose accounts hold their contacts

Where things live: :mod:`.facts` (the document and its checks), :mod:`.eligibility` (the rules and the
reason codes), :mod:`.intake` (the upsert around them), :mod:`.welcome` (the account-created messages),
:mod:`.importer` (CSV), :mod:`.claims`, :mod:`.api` (REST), :mod:`.models`, :mod:`.conflicts` (the admin's
report on a held policy), :mod:`.persons` (correcting whose an account is).
"""
from idp.policies.claims import CLAIM, SCOPE, claims_for
from idp.policies.conflicts import Conflict, conflicts_for
from idp.policies.eligibility import REASONS, Decision, Facts, Holder, Person, decide
from idp.policies.facts import KINDS, PRODUCTS, STATUSES, InvalidPolicy, PolicyInput, name_key, parse_policy
from idp.policies.importer import ImportFileError, ImportReport, import_csv
from idp.policies.intake import Outcome, issue_policy, receive, recheck
from idp.policies.models import ATTACHED, HELD, REFUSED, AccountPerson, Policy
from idp.policies.report import describe_policy

__all__ = [
    "ATTACHED", "CLAIM", "HELD", "KINDS", "PRODUCTS", "REASONS", "REFUSED", "SCOPE", "STATUSES",
    "AccountPerson", "Conflict", "Decision", "Facts", "Holder", "ImportFileError", "ImportReport",
    "InvalidPolicy", "Outcome", "Person", "Policy", "PolicyInput", "claims_for", "conflicts_for", "decide",
    "describe_policy", "import_csv", "issue_policy", "name_key", "parse_policy", "receive", "recheck",
]
