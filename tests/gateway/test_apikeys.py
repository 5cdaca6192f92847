from __future__ import annotations

import hashlib

from gateway.apikeys import hash_secret, make_key, with_new_secret
from gateway.roles import ROLES


def test_a_new_key_keeps_only_its_hash_and_a_mask() -> None:
    secret, row = make_key(name="n", role="low")
    assert secret.startswith("sk-")
    assert len(secret) >= 35
    assert row.sha256 == hashlib.sha256(secret.encode()).hexdigest() == hash_secret(secret)
    assert secret not in repr(row)
    assert row.mask == f"{secret[:5]}****{secret[-4:]}"
    assert row.code.startswith("ak-")


def test_reset_changes_the_secret_not_the_code() -> None:
    secret, row = make_key(name="n", role="high")
    new_secret, new_row = with_new_secret(row)
    assert new_secret != secret
    assert new_row.code == row.code
    assert new_row.sha256 == hash_secret(new_secret)


def test_roles_are_path_patterns() -> None:
    assert ROLES["low"].allows("/v1/chat/completions")
    assert not ROLES["low"].allows("/console/models")
    assert not ROLES["low"].allows("/v1x/chat")
    assert ROLES["console"].allows("/console/models")
    assert not ROLES["high"].allows("/console")
    assert ROLES["all"].allows("/metrics")
    assert ROLES["low"].allows("/v1")  # a `/**` pattern covers its base too
    assert not ROLES["low"].allows("/v1/apikey/children")
    assert not ROLES["low"].allows("/v1/apikey/children/ak-1")
    assert ROLES["low"].allows("/v1/apikey/childrenx")
    assert ROLES["high"].allows("/v1/apikey/children")
