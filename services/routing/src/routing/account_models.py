"""Staff accounts: the request and response models of the login and admin API, and the rules an account
must follow (username shape, password policy, an officer's agency). No I/O."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, ValidationError, field_validator
from pydantic_core import PydanticCustomError

from paht_shared.auth import MAX_TOKEN_CHARS, Role

FieldError = dict[str, str | None]

MIN_PASSWORD_CHARS = 12
# argon2 would hash a megabyte happily; a bound keeps one request from costing more than a login should.
MAX_PASSWORD_CHARS = 256
USERNAME = re.compile(r"[a-z0-9][a-z0-9._@-]{2,63}")
AGENCY_CODE = re.compile(r"[A-Z0-9][A-Z0-9_-]{0,31}")

MESSAGES: dict[str, str] = {
    "missing": "Thông tin này là bắt buộc.",
    "wrong_type": "Giá trị không đúng kiểu dữ liệu.",
    "too_short": "Nội dung quá ngắn.",
    "too_long": "Nội dung quá dài.",
    "invalid": "Giá trị không hợp lệ.",
    "unknown_field": "Trường thông tin này không được hỗ trợ.",
    "null_not_allowed": "Trường thông tin này không được để trống.",
    "invalid_username": (
        "Tên đăng nhập gồm 3–64 ký tự: chữ thường không dấu, chữ số và các dấu . _ @ -, bắt đầu bằng chữ hoặc số."
    ),
    "invalid_role": "Vai trò phải là officer, coordinator, operator hoặc admin.",
    "invalid_agency_code": "Mã cơ quan không hợp lệ.",
    "unknown_agency": "Không tìm thấy cơ quan với mã này.",
    "agency_required": "Cán bộ (officer) phải thuộc một cơ quan: vui lòng chọn mã cơ quan.",
    "weak_password": (
        f"Mật khẩu phải có ít nhất {MIN_PASSWORD_CHARS} ký tự, không chỉ gồm chữ số và không trùng tên đăng nhập."
    ),
}

_PYDANTIC_TO_CODE = {
    "missing": "missing",
    "extra_forbidden": "unknown_field",
    "string_too_short": "too_short",
    "string_too_long": "too_long",
    "string_type": "wrong_type",
    "bool_type": "wrong_type",
    "model_type": "wrong_type",
    "enum": "invalid_role",
}


def field_error(field: str | None, code: str) -> FieldError:
    return {"field": field, "code": code, "message": MESSAGES.get(code, MESSAGES["invalid"])}


class InvalidAccount(Exception):
    """The request breaks one or more account rules: 422 with every error."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("invalid account")
        self.errors = errors


_FIELD_NAME = re.compile(r"[a-z_][a-z0-9_]{0,40}")


def pydantic_errors(exc: ValidationError) -> list[FieldError]:
    """pydantic errors as {field, code, message}, one per field; never the input (a password, say)."""
    errors: list[FieldError] = []
    seen: set[str] = set()
    for err in exc.errors(include_input=False, include_url=False, include_context=False):
        # A client may send anything as a key: name it only if it looks like a field name.
        field = ".".join(str(p) if _FIELD_NAME.fullmatch(str(p)) else "?" for p in err["loc"])
        if field in seen:
            continue
        seen.add(field)
        kind = err["type"]
        code = kind if kind in MESSAGES else _PYDANTIC_TO_CODE.get(kind, "invalid")
        errors.append(field_error(field, code))
    return errors


ModelT = TypeVar("ModelT", bound=BaseModel)


def parse(model: type[ModelT], body: Any) -> ModelT:
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise InvalidAccount(pydantic_errors(exc)) from None


# --- field types --------------------------------------------------------------------------------------


def _username(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    value = value.strip().lower()
    if not USERNAME.fullmatch(value):
        raise PydanticCustomError("invalid_username", "invalid username")
    return value


def _agency_code(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    value = value.strip().upper()
    if not AGENCY_CODE.fullmatch(value):
        raise PydanticCustomError("invalid_agency_code", "invalid agency code")
    return value


def _stripped(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


Username = Annotated[str, BeforeValidator(_username)]
AgencyCode = Annotated[str, BeforeValidator(_agency_code)]
DisplayName = Annotated[str, BeforeValidator(_stripped), Field(min_length=1, max_length=200)]
# Never stripped: spaces are part of a password.
Password = Annotated[str, Field(min_length=1, max_length=MAX_PASSWORD_CHARS)]
OidcSubject = Annotated[str, BeforeValidator(_stripped), Field(min_length=1, max_length=320)]


def password_is_weak(password: str, username: str) -> bool:
    """The policy: at least 12 characters, not only digits (a phone or CCCD number), not the username."""
    return len(password) < MIN_PASSWORD_CHARS or password.isdigit() or password.strip().lower() == username.lower()


def scope_errors(role: Role, agency_code: str | None) -> list[FieldError]:
    """An officer works for one agency: their tokens carry it, so the account must have it."""
    if role is Role.OFFICER and agency_code is None:
        return [field_error("agency_code", "agency_required")]
    return []


# --- requests -----------------------------------------------------------------------------------------


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Not validated as a Username: a malformed name is just an unknown one (same 401, same time).
    username: str = Field(min_length=1, max_length=200)
    password: Password


class OidcLoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id_token: str = Field(min_length=1, max_length=MAX_TOKEN_CHARS)


class CreateStaff(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: Username
    display_name: DisplayName
    role: Role
    agency_code: AgencyCode | None = None
    password: Password | None = None
    oidc_subject: OidcSubject | None = None


class UpdateStaff(BaseModel):
    """Only the fields sent change; `agency_code` and `oidc_subject` may be sent as null to clear them."""

    model_config = ConfigDict(extra="forbid")

    display_name: DisplayName | None = None
    role: Role | None = None
    agency_code: AgencyCode | None = None
    disabled: StrictBool | None = None
    password: Password | None = None
    oidc_subject: OidcSubject | None = None

    @field_validator("display_name", "role", "disabled", "password", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        # Runs only for fields the client sent: null would mean "no name" or "no role", which no account has.
        if value is None:
            raise PydanticCustomError("null_not_allowed", "null not allowed")
        return value


# --- what the service knows and answers -----------------------------------------------------------------


class StaffAccount(BaseModel):
    """An account as stored, hash included: it never leaves the service (see StaffView)."""

    model_config = ConfigDict(frozen=True)

    id: uuid.UUID
    username: str
    display_name: str
    password_hash: str | None = Field(default=None, repr=False, exclude=True)
    role: Role
    agency_code: str | None
    disabled: bool
    failed_logins: int
    locked_until: datetime | None
    oidc_subject: str | None
    created_at: datetime
    updated_at: datetime


class StaffView(BaseModel):
    """An account as the admin API shows it: whether it has a password, never the hash."""

    id: uuid.UUID
    username: str
    display_name: str
    role: Role
    agency_code: str | None
    disabled: bool
    has_password: bool
    oidc_subject: str | None
    locked_until: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, account: StaffAccount) -> StaffView:
        return cls(
            id=account.id,
            username=account.username,
            display_name=account.display_name,
            role=account.role,
            agency_code=account.agency_code,
            disabled=account.disabled,
            has_password=account.password_hash is not None,
            oidc_subject=account.oidc_subject,
            locked_until=account.locked_until,
            created_at=account.created_at,
            updated_at=account.updated_at,
        )


class IssuedToken(BaseModel):
    access_token: str = Field(repr=False)
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - the OAuth token type, not a secret
    expires_in: int
    role: Role
    agency: str | None
