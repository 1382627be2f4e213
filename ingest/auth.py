"""Users, roles and bearer tokens: who is calling, and what they may see.

A token is 256 random bits (``secrets``), shown once when issued; only its
SHA-256 is stored (a high-entropy secret needs no slow hash), with an expiry and
a revocation time. A :class:`Principal` is what a valid token resolves to: the
user's role and scope (a federation's département, a station user's station).
Every change to users and tokens is audited in the same transaction.

Roles (docs/api.md has the route table):

- ``high_authority``: everything, nationally; may also decide disputed reviews.
- ``federation``: its own département's stations, results, findings and contacts.
- ``station``: its own station's status, batches and rejections (uploads stay
  signed with the station's Ed25519 key, not with a token).
- ``reviewer``: keys review items (optionally of one département); never sees
  decrypted contacts.
- ``coordinator``: sees the keyings of disputed items and decides them.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError

from ingest import audit
from ingest.db import ApiToken, User, session
from ingest.geo import departement_of
from pen.batches import STATION_ID_RE

TOKEN_PREFIX = "plm_"
DEFAULT_TOKEN_DAYS = 30
_DAY_MS = 86_400_000
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
_DEPARTEMENT = re.compile(r"^(0[1-9]|[1-8][0-9]|9[0-5]|2A|2B|97[1-6])$")


class Role(StrEnum):
    HIGH_AUTHORITY = "high_authority"
    FEDERATION = "federation"
    STATION = "station"
    REVIEWER = "reviewer"
    COORDINATOR = "coordinator"


class UserError(ValueError):
    """A user or token request that cannot be done; the message says why."""


@dataclass(frozen=True)
class Principal:
    """The caller behind a valid token."""

    user_id: int
    name: str
    role: Role
    departement: str | None
    """The only département this caller sees (federation, regional reviewer); None: all."""
    station_id: str | None
    """The only station a ``station`` caller sees."""

    @property
    def actor(self) -> str:
        """How the audit log names this caller."""
        return f"user:{self.name}"


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _check(name: str, role: str, departement: str | None, station_id: str | None) -> Role:
    if not _NAME.fullmatch(name):
        raise UserError(f"user name {name!r} must be 1-64 letters, digits, '.', '_', '@', '-'")
    try:
        r = Role(role)
    except ValueError:
        raise UserError(f"role {role!r} is unknown; use one of {', '.join(Role)}") from None
    if departement is not None and not _DEPARTEMENT.fullmatch(departement):
        raise UserError(f"département {departement!r} is not 01-95, 2A, 2B or 971-976")
    if r is Role.FEDERATION and departement is None:
        raise UserError("a federation user needs --departement")
    if r is Role.STATION:
        if station_id is None or not STATION_ID_RE.fullmatch(station_id):
            raise UserError("a station user needs --station with a valid station id")
    elif station_id is not None:
        raise UserError("only a station user has --station")
    if r in (Role.HIGH_AUTHORITY, Role.COORDINATOR) and departement is not None:
        raise UserError(f"a {r} user is national: drop --departement")
    return r


def _issue(user: User, days: int) -> tuple[ApiToken, str]:
    if not 1 <= days <= 366:
        raise UserError("token lifetime must be 1 to 366 days")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = _now_ms()
    row = ApiToken(
        user_id=user.id,
        token_hash=token_hash(token),
        prefix=token[:10],
        created_ms=now,
        expires_ms=now + days * _DAY_MS,
    )
    return row, token


def create_user(
    engine: Engine,
    name: str,
    role: str,
    *,
    departement: str | None = None,
    station_id: str | None = None,
    days: int = DEFAULT_TOKEN_DAYS,
    actor: str = "cli",
) -> str:
    """Create a user with a first token; return the token (the only time it is shown)."""
    r = _check(name, role, departement, station_id)
    if r is Role.STATION and station_id is not None:
        departement = departement_of(station_id)
    try:
        with session(engine) as s, s.begin():
            user = User(
                name=name,
                role=r.value,
                departement=departement,
                station_id=station_id,
                created_ms=_now_ms(),
            )
            s.add(user)
            s.flush()
            row, token = _issue(user, days)
            s.add(row)
            detail = {"role": r.value, "departement": departement, "station_id": station_id}
            audit.append(s, actor, "user.create", f"user:{name}", detail)
            audit.append(s, actor, "token.issue", f"user:{name}", {"prefix": row.prefix})
    except IntegrityError:
        raise UserError(f"user {name} exists already; pick another name") from None
    return token


def issue_token(engine: Engine, name: str, *, days: int = DEFAULT_TOKEN_DAYS, actor: str) -> str:
    """A new token for an existing, enabled user (older tokens stay valid until revoked)."""
    with session(engine) as s, s.begin():
        user = s.scalar(select(User).where(User.name == name))
        if user is None or user.disabled_ms is not None:
            raise UserError(f"user {name} does not exist or is revoked")
        row, token = _issue(user, days)
        s.add(row)
        audit.append(s, actor, "token.issue", f"user:{name}", {"prefix": row.prefix})
    return token


def revoke_user(engine: Engine, name: str, *, actor: str) -> int:
    """Disable a user and revoke all its tokens; return how many tokens were live."""
    now = _now_ms()
    with session(engine) as s, s.begin():
        user = s.scalar(select(User).where(User.name == name))
        if user is None:
            raise UserError(f"user {name} does not exist")
        tokens = s.scalars(
            select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_ms.is_(None))
        ).all()
        for tok in tokens:
            tok.revoked_ms = now
        live = len(tokens)
        user.disabled_ms = user.disabled_ms or now
        audit.append(s, actor, "user.revoke", f"user:{name}", {"tokens_revoked": live})
    return live


@dataclass(frozen=True)
class UserInfo:
    name: str
    role: str
    departement: str | None
    station_id: str | None
    enabled: bool
    live_tokens: int
    created_ms: int


def list_users(engine: Engine) -> list[UserInfo]:
    """Every user with its scope and how many usable tokens it has now."""
    now = _now_ms()
    with session(engine) as s:
        users = list(s.scalars(select(User).order_by(User.name)))
        live: dict[int, int] = {}
        for uid in s.scalars(
            select(ApiToken.user_id).where(ApiToken.revoked_ms.is_(None), ApiToken.expires_ms > now)
        ):
            live[uid] = live.get(uid, 0) + 1
    return [
        UserInfo(
            u.name,
            u.role,
            u.departement,
            u.station_id,
            u.disabled_ms is None,
            live.get(u.id, 0),
            u.created_ms,
        )
        for u in users
    ]


def authenticate(engine: Engine, token: str) -> Principal | None:
    """The principal of a live token (not expired, not revoked, user enabled), else None."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 128:
        return None
    now = _now_ms()
    with session(engine) as s:
        row = s.execute(
            select(User, ApiToken)
            .join(ApiToken, ApiToken.user_id == User.id)
            .where(ApiToken.token_hash == token_hash(token))
        ).first()
    if row is None:
        return None
    user, tok = row
    if tok.revoked_ms is not None or tok.expires_ms <= now or user.disabled_ms is not None:
        return None
    return Principal(user.id, user.name, Role(user.role), user.departement, user.station_id)
