from __future__ import annotations

import pytest

from spine.alerting import WebhookVerificationError, generate_secret, verify_signature
from spine.alerting.signing import sign, signed_headers

# The test vector of the Standard Webhooks reference libraries.
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
TIMESTAMP = 1614265330
BODY = '{"test": 2432232314}'
EXPECTED = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_signature_matches_the_reference_vector() -> None:
    assert sign(SECRET, MSG_ID, TIMESTAMP, BODY) == EXPECTED


def test_a_good_signature_verifies_with_headers_in_any_case() -> None:
    headers = {k.title(): v for k, v in signed_headers(SECRET, MSG_ID, TIMESTAMP, BODY).items()}
    assert verify_signature(SECRET, headers, BODY.encode(), now=TIMESTAMP + 10) is True


def test_tampered_body_is_refused() -> None:
    headers = signed_headers(SECRET, MSG_ID, TIMESTAMP, BODY)
    with pytest.raises(WebhookVerificationError, match="signature"):
        verify_signature(SECRET, headers, BODY + " ", now=TIMESTAMP)


def test_another_secret_is_refused() -> None:
    headers = signed_headers(SECRET, MSG_ID, TIMESTAMP, BODY)
    with pytest.raises(WebhookVerificationError):
        verify_signature(generate_secret(), headers, BODY, now=TIMESTAMP)


@pytest.mark.parametrize(("offset", "word"), [(-301, "old"), (301, "future")])
def test_timestamps_outside_the_tolerance_are_refused(offset: int, word: str) -> None:
    headers = signed_headers(SECRET, MSG_ID, TIMESTAMP, BODY)
    with pytest.raises(WebhookVerificationError, match=word):
        verify_signature(SECRET, headers, BODY, now=TIMESTAMP - offset)


def test_one_matching_signature_among_several_is_enough() -> None:
    headers = signed_headers(SECRET, MSG_ID, TIMESTAMP, BODY)
    headers["webhook-signature"] = "v1,AAAA " + headers["webhook-signature"]
    assert verify_signature(SECRET, headers, BODY, now=TIMESTAMP)


def test_missing_header_is_refused() -> None:
    headers = signed_headers(SECRET, MSG_ID, TIMESTAMP, BODY)
    del headers["webhook-timestamp"]
    with pytest.raises(WebhookVerificationError, match="webhook-timestamp"):
        verify_signature(SECRET, headers, BODY, now=TIMESTAMP)


def test_headers_signed_with_two_secrets_verify_with_either() -> None:
    other = generate_secret()
    headers = signed_headers(other, MSG_ID, TIMESTAMP, BODY, also=(SECRET,))
    assert headers["webhook-signature"].split() == [sign(other, MSG_ID, TIMESTAMP, BODY), EXPECTED]
    for secret in (other, SECRET):
        assert verify_signature(secret, headers, BODY, now=TIMESTAMP)
    with pytest.raises(WebhookVerificationError):
        verify_signature(generate_secret(), headers, BODY, now=TIMESTAMP)
