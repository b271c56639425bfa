"""Who is calling, and where: read from the SigV4 ``Authorization`` header, as AWS reads it.

``AWS4-HMAC-SHA256 Credential=AKID/20260110/us-east-1/backup/aws4_request, SignedHeaders=...,
Signature=...``: the region and the service of a request are its credential scope's (so one
endpoint serves AWS Backup and the Account API; each of AWS's endpoints checks the scope's
service the same way), and its account is what the ``AccountResolver`` says the access key ID
belongs to. The default resolver answers one fixed account for every key; a test that has moto's
STS issue credentials can map each key to the account it assumed a role in. Signatures are not
verified (the fake knows no secret keys).

Refusals, with AWS's common error codes: no Authorization header (MissingAuthenticationToken),
a header that is not a well-formed SigV4 one or is scoped to a service the fake does not
serve (IncompleteSignature), a key the resolver does not know (InvalidClientTokenId).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass

import boto3
import botocore.exceptions

from exporter.demo.fake_backup.errors import ApiError
from exporter.demo.fake_backup.model import SERVICE

DEFAULT_ACCOUNT_ID = "123456789012"
ALGORITHM = "AWS4-HMAC-SHA256"
_DATE = re.compile(r"[0-9]{8}")

AccountResolver = Callable[[str], str | None]  # access key ID -> account ID, None: unknown key


def fixed_account(account_id: str = DEFAULT_ACCOUNT_ID) -> AccountResolver:
    """A resolver that puts every access key in one account."""
    return lambda access_key_id: account_id


def sts_accounts(endpoint_url: str, region: str = "us-east-1") -> AccountResolver:
    """A resolver that asks an STS endpoint which account a key is in (GetCallerIdentity, signed
    with the key and a made-up secret): for moto's STS, which issues the keys of AssumeRole
    and does not check signatures, so each assumed role's key resolves to the role's account.
    Answers are kept per key (a key never changes account)."""
    known: dict[str, str] = {}
    lock = threading.Lock()

    def resolve(access_key_id: str) -> str | None:
        with lock:
            if access_key_id in known:
                return known[access_key_id]
        sts = boto3.session.Session().client(
            "sts", region_name=region, endpoint_url=endpoint_url, aws_access_key_id=access_key_id,
            aws_secret_access_key="unchecked",  # noqa: S106 (moto checks no signature)
        )  # fmt: skip
        try:
            account_id: str = sts.get_caller_identity()["Account"]
        except botocore.exceptions.ClientError:
            return None
        finally:
            sts.close()
        with lock:
            known[access_key_id] = account_id
        return account_id

    return resolve


@dataclass(frozen=True)
class Caller:
    access_key_id: str
    account_id: str
    region: str
    service: str = SERVICE


def _incomplete(message: str) -> ApiError:
    return ApiError("IncompleteSignature", message)


def _parameters(authorization: str) -> dict[str, str]:
    algorithm, _, rest = authorization.partition(" ")
    if algorithm != ALGORITHM:
        raise _incomplete(f"Unsupported authorization type: {algorithm or authorization!r}")
    parameters = {}
    for part in rest.split(","):
        name, equals, value = part.strip().partition("=")
        if equals:
            parameters[name] = value
    for name in ("Credential", "SignedHeaders", "Signature"):
        if not parameters.get(name):
            raise _incomplete(f"Authorization header requires '{name}' parameter.")
    return parameters


def scoped_service(headers: Mapping[str, str]) -> str | None:
    """The service of the request's credential scope, None when it has none to read (``caller``
    then says what is wrong)."""
    try:
        credential = _parameters(headers.get("authorization") or "")["Credential"].split("/")
    except ApiError:
        return None
    return credential[3] if len(credential) == 5 else None


def caller(
    headers: Mapping[str, str], resolve: AccountResolver, services: Collection[str] = (SERVICE,)
) -> Caller:
    """The caller of a request (``headers`` with lower-case names), or the ApiError AWS sends;
    ``services``: those the endpoint serves (named when the scope is another one)."""
    authorization = headers.get("authorization")
    if not authorization:
        raise ApiError("MissingAuthenticationToken", "Missing Authentication Token")
    credential = _parameters(authorization)["Credential"].split("/")
    if (
        len(credential) != 5
        or credential[4] != "aws4_request"
        or not _DATE.fullmatch(credential[1])
    ):
        raise _incomplete(
            "Credential should be <key>/<date>/<region>/<service>/aws4_request, "
            f"not {'/'.join(credential[1:])!r}"
        )
    key, _, region, service, _ = credential
    if service not in services:
        served = " or ".join(f"'{name}'" for name in services)
        raise _incomplete(f"Credential should be scoped to correct service: {served}.")
    if not key or not region:
        raise _incomplete("Credential has an empty access key ID or region.")
    if "x-amz-date" not in headers and "date" not in headers:
        raise _incomplete(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
        )
    account_id = resolve(key)
    if account_id is None:
        raise ApiError(
            "InvalidClientTokenId", "The security token included in the request is invalid."
        )
    return Caller(key, account_id, region, service)
