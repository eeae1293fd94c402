"""Money in custody (资金代管): a granted project's tranches paid in, its spendings with their
receipts, and its balance, which never goes below zero. See docs/ledger.md ("Grant money").

The money is its own ledger, `grant_money`, in fen, kept by the points ledger's engine
(`points.ledger`: append-only transfers with ids chosen by their cause, balances in the accounts,
the no-overdraft CHECK), so points and money never mix and `linli ledger verify` checks it too:
- `grant_money:round_fund:{round}`: the round's funds; each tranche is debited here (it goes negative:
  minus what the round has paid out);
- `grant_money:project:{project}`: the project's custody (no overdraft: never below zero);
- `grant_money:spent:{project}`: what the project spent.
A spending recorded by mistake is reversed by the ledger's reversal transfer (`spent` → `project`,
naming the spending's transfer): `grants.corrections`.
Services take a session and plain values, flush and never commit; each request's `key` makes a
retry record once (the transfer's id is `grant_money:tranche:{project}:{key}` or `...spending...`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import re
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.orm import Session

from grants import repository_money as repository
from grants.models import Project
from grants.models_money import CATEGORIES, Spending, Tranche
from linli import scope
from linli.errors import FieldError, conflict, invalid, not_found
from orgs import service as orgs
from points import ledger

LEDGER = repository.MONEY_LEDGER
KEY_PATTERN = r"^[A-Za-z0-9_.:-]{1,40}$"
AMOUNT_RANGE = (1, 10_000_000_000)  # fen: up to 100 million yuan
NOTE_MAX, TRANCHE_NOTE_MAX = 500, 200
MAX_RECEIPT_BYTES = 2 * 1024 * 1024  # a phone photo of a receipt, scaled down, or a scanned PDF
MAX_RECEIPT_PIXELS = 6000 * 6000
_MAGIC = ((b"\xff\xd8\xff", "image/jpeg"), (b"\x89PNG\r\n\x1a\n", "image/png"), (b"%PDF-", "application/pdf"))
_PIL_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG"}
EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "application/pdf": "pdf"}


@dataclass(frozen=True)
class TrancheInput:
    key: str
    amount: int
    note: str = ""


@dataclass(frozen=True)
class SpendingInput:
    key: str
    amount: int
    category: str
    spent_on: date
    receipt: str | None  # the file, base64
    note: str = ""


@dataclass(frozen=True)
class Receipt:
    content: bytes
    media_type: str
    sha256: str


# Who ------------------------------------------------------------------------------------------


def _project(session: Session, project_id: int) -> Project:
    project = repository.project(session, project_id)
    if project is None:
        raise not_found("项目 Project", "project_not_found")
    return project


def _paths(session: Session, project: Project) -> tuple[str, str]:
    """(the project's organization's path, the path of the round's hub: the custodian)."""
    hub_id = repository.grant_round(session, project.round_id).org_id
    return orgs.get(session, project.org_id).path, orgs.get(session, hub_id).path


def project_for_custodian(
    session: Session,
    project_id: int,
    admin_paths,
    message: str = "只有本轮所属枢纽的管理员可以拨款 Only admins of the round's hub pay tranches in",
) -> Project:
    """The project, for an admin of the round's hub (or above it): who pays tranches in and
    reverses spendings."""
    project = _project(session, project_id)
    scope.require(admin_paths, _paths(session, project)[1], message)
    return project


def project_for_admin(session: Session, project_id: int, admin_paths) -> Project:
    """The project, for an admin of its organization or of the round's hub (or above either)."""
    project = _project(session, project_id)
    org_path, hub_path = _paths(session, project)
    if not scope.covers(admin_paths, hub_path):
        scope.require(
            admin_paths,
            org_path,
            "只有项目所属组织或枢纽的管理员可以查看和记账 Admins of the project's organization or hub only",
        )
    return project


# Accounts -------------------------------------------------------------------------------------


def accounts_of(session: Session, project: Project, now: datetime) -> dict[str, int]:
    """Ids of the round's fund and the project's custody and spent accounts (made on first use)."""
    hub_id = repository.grant_round(session, project.round_id).org_id
    keys = {
        "round_fund": (f"{LEDGER}:round_fund:{project.round_id}", "round_fund"),
        "project": (f"{LEDGER}:project:{project.id}", "project"),
        "spent": (f"{LEDGER}:spent:{project.id}", "spent"),
    }
    ids = ledger.ensure_accounts(
        session, {key: {"ledger": LEDGER, "kind": kind, "hub_id": hub_id} for key, kind in keys.values()}, now
    )
    return {name: ids[key] for name, (key, _) in keys.items()}


def account(session: Session, project: Project) -> dict:
    """granted, paid_in, spent, balance (fen), and what was spent by category (every category);
    a reversed spending counts nowhere (its reversal credited the custody account back)."""
    custody = ledger.account_by_key(session, f"{LEDGER}:project:{project.id}")
    reversed_ = repository.reversed_sums(session, project.id).get(project.id, 0)
    paid_in = custody.credits_posted - reversed_ if custody else 0
    spent = custody.debits_posted - reversed_ if custody else 0
    by_category = repository.spent_by_category(session, project.id)
    return {
        "project_id": project.id,
        "granted": project.granted,
        "paid_in": paid_in,
        "spent": spent,
        "balance": paid_in - spent,
        "to_pay_in": project.granted - paid_in,
        "reversed": reversed_,
        "by_category": [
            {"category": code, "name": name, "amount": by_category.get(code, 0)}
            for code, name in CATEGORIES.items()
        ],
    }


def summary(session: Session, project_ids: list[int]) -> dict[int, dict]:
    """For reports (a round's money): each project's granted, paid_in, spent and balance (fen), and
    spent by category code, read from the rows beside the ledger (`verify` holds them equal to it)."""
    paid = repository.tranche_sums(session, project_ids)
    out = {
        p.id: {"granted": p.granted, "paid_in": paid.get(p.id, 0), "spent": 0, "by_category": {}}
        for p in repository.projects(session, project_ids)
    }
    for project_id, category, amount in repository.spent_by_project_and_category(session, project_ids):
        out[project_id]["by_category"][category] = amount
        out[project_id]["spent"] += amount
    for row in out.values():
        row["balance"] = row["paid_in"] - row["spent"]
    return out


# Checks of the input ----------------------------------------------------------------------------


def _common(errors: list[FieldError], key: str, amount: int, note: str, note_max: int) -> None:
    if not re.fullmatch(KEY_PATTERN, key or ""):
        errors.append(
            FieldError(
                "key",
                "key_invalid",
                "请求键须为1到40个字母、数字或 _.:- A key of 1 to 40 letters, digits or _.:-",
            )
        )
    if not AMOUNT_RANGE[0] <= amount <= AMOUNT_RANGE[1]:
        errors.append(
            FieldError(
                "amount", "amount_out_of_range", "金额须为正数（分） The amount must be positive, in fen"
            )
        )
    if len(note) > note_max:
        errors.append(FieldError("note", "too_long", f"备注最多{note_max}字 At most {note_max} characters"))


def read_receipt(encoded: str | None) -> Receipt | FieldError:
    """The receipt's bytes and type, read from the bytes themselves (never from a name): a JPEG or
    PNG picture whose header reads as one, or a PDF; at most MAX_RECEIPT_BYTES."""
    if not encoded:
        return FieldError(
            "receipt", "receipt_required", "请上传票据（图片或PDF） Attach the receipt (a picture or a PDF)"
        )
    if len(encoded) > (MAX_RECEIPT_BYTES * 4) // 3 + 4:
        return _too_large()
    try:
        content = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return FieldError("receipt", "receipt_not_base64", "票据须为base64编码 The receipt must be base64")
    if len(content) > MAX_RECEIPT_BYTES:
        return _too_large()
    media_type = next((t for magic, t in _MAGIC if content.startswith(magic)), None)
    if media_type is None or not _reads_as(content, media_type):
        return FieldError(
            "receipt",
            "receipt_type_not_allowed",
            "票据只能是JPEG、PNG图片或PDF The receipt must be a JPEG, PNG or PDF",
        )
    return Receipt(content, media_type, hashlib.sha256(content).hexdigest())


def _too_large() -> FieldError:
    mb = MAX_RECEIPT_BYTES // (1024 * 1024)
    return FieldError(
        "receipt", "receipt_too_large", f"票据不能超过{mb}MB The receipt may be at most {mb} MB"
    )


def _reads_as(content: bytes, media_type: str) -> bool:
    if media_type == "application/pdf":
        return b"%%EOF" in content[-1024:]
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(content), formats=[_PIL_FORMATS[media_type]]) as image:  # the header only
            width, height = image.size
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return False
    return 0 < width * height <= MAX_RECEIPT_PIXELS


# Tranches -------------------------------------------------------------------------------------


def pay_tranche(
    session: Session, project: Project, data: TrancheInput, *, staff_user_id: int | None, now: datetime
) -> tuple[Tranche, bool]:
    """Pay a tranche into the project's custody from its round's fund. Returns the tranche and
    whether it was recorded now (False: the same request again). Never more than the grant in all
    (409 `exceeds_granted`)."""
    errors: list[FieldError] = []
    _common(errors, data.key, data.amount, data.note, TRANCHE_NOTE_MAX)
    if errors:
        raise invalid(errors)
    accounts = accounts_of(session, project, now)
    ledger.lock_accounts(session, [accounts["round_fund"], accounts["project"]])  # one tranche at a time
    existing = repository.tranche_by_key(session, project.id, data.key)
    if existing is not None:
        return _replayed(existing, amount=data.amount, note=data.note), False
    _require_active(project)
    _require_in_hub(session, project)
    paid_in = repository.paid_in(session, project.id)
    if paid_in + data.amount > project.granted:
        raise conflict(
            "exceeds_granted",
            f"拨款合计不能超过资助金额：已拨{paid_in}分，资助{project.granted}分"
            f" Tranches may not exceed the grant: {paid_in} of {project.granted} fen paid in",
            granted=project.granted,
            paid_in=paid_in,
        )
    transfer_id = f"{LEDGER}:tranche:{project.id}:{data.key}"
    [code] = ledger.create_transfers(
        session,
        [
            ledger.TransferInput(
                id=transfer_id,
                debit_account_id=accounts["round_fund"],
                credit_account_id=accounts["project"],
                amount=data.amount,
                reason="grant_tranche",
                reference=f"project:{project.id}",
            )
        ],
        now,
    )
    if code != ledger.CREATED:
        raise conflict("key_reused", f"请求键已被占用 The key is taken ({code})")
    tranche = Tranche(
        project_id=project.id,
        key=data.key,
        transfer_id=transfer_id,
        amount=data.amount,
        note=data.note,
        created_by=staff_user_id,
        created_at=now,
    )
    session.add(tranche)
    session.flush()
    return tranche, True


def tranches(session: Session, project: Project) -> list[Tranche]:
    return repository.tranches(session, project.id)


# Spending -------------------------------------------------------------------------------------


def spend(
    session: Session,
    project: Project,
    data: SpendingInput,
    *,
    staff_user_id: int | None,
    now: datetime,
    today: date,
) -> tuple[Spending, bool]:
    """Record a spending out of custody, with its receipt. Returns it and whether it was recorded
    now (False: the same request again). More than the balance: 409 `insufficient_balance`, and
    nothing is written."""
    errors: list[FieldError] = []
    _common(errors, data.key, data.amount, data.note, NOTE_MAX)
    if data.category not in CATEGORIES:
        errors.append(FieldError("category", "category_unknown", f"类别须为 One of: {', '.join(CATEGORIES)}"))
    if data.spent_on > today:
        errors.append(
            FieldError("spent_on", "future_day", "支出日期不能晚于今天 The day cannot be in the future")
        )
    receipt = read_receipt(data.receipt)
    if isinstance(receipt, FieldError):
        errors.append(receipt)
    if errors:
        raise invalid(errors)
    accounts = accounts_of(session, project, now)
    ledger.lock_accounts(session, [accounts["project"], accounts["spent"]])  # one spending at a time
    existing = repository.spending_by_key(session, project.id, data.key)
    if existing is not None:
        return _replayed(
            existing,
            amount=data.amount,
            note=data.note,
            category=data.category,
            spent_on=data.spent_on,
            receipt_sha256=receipt.sha256,
        ), False
    _require_active(project)
    _require_in_hub(session, project)
    transfer_id = f"{LEDGER}:spending:{project.id}:{data.key}"
    [code] = ledger.create_transfers(
        session,
        [
            ledger.TransferInput(
                id=transfer_id,
                debit_account_id=accounts["project"],
                credit_account_id=accounts["spent"],
                amount=data.amount,
                reason="grant_spending",
                reference=f"project:{project.id}:{data.category}",
            )
        ],
        now,
    )
    if code == "exceeds_credits":
        balance = account(session, project)["balance"]
        raise conflict(
            "insufficient_balance",
            f"余额不足：余额{balance}分，支出{data.amount}分 The balance is {balance} fen, less than {data.amount}",
            balance=balance,
        )
    if code != ledger.CREATED:
        raise conflict("key_reused", f"请求键已被占用 The key is taken ({code})")
    spending = Spending(
        project_id=project.id,
        key=data.key,
        transfer_id=transfer_id,
        amount=data.amount,
        category=data.category,
        spent_on=data.spent_on,
        note=data.note,
        receipt_type=receipt.media_type,
        receipt_size=len(receipt.content),
        receipt_sha256=receipt.sha256,
        receipt=receipt.content,
        created_by=staff_user_id,
        created_at=now,
    )
    session.add(spending)
    session.flush()
    return spending, True


def spendings(session: Session, project: Project, after_id: int, limit: int) -> list[Spending]:
    return repository.spendings(session, project.id, after_id, limit)


def reversals_of(session: Session, rows: list[Spending]) -> dict:
    """The reversals of these spendings, by spending id (those reversed only)."""
    return repository.reversals_of(session, [s.id for s in rows])


def receipt_of(session: Session, project: Project, spending_id: int) -> Spending:
    spending = repository.spending_with_receipt(session, project.id, spending_id)
    if spending is None:
        raise not_found("支出 Spending", "spending_not_found")
    return spending


def _require_active(project: Project) -> None:
    if project.status != "active":
        raise conflict("project_closed", "项目已结项 The project is closed")


def _require_in_hub(session: Session, project: Project) -> None:
    """Money moves only while the project's organization is under the round's hub: one that left
    (moved under another hub) gets no tranche and records no spending; what is in custody stays."""
    org_path, hub_path = _paths(session, project)
    if org_path == hub_path or not scope.covers([hub_path], org_path):
        raise conflict(
            "organization_left_hub",
            "项目所属组织已不在本轮枢纽之下，资金暂停 The project's organization left the round's hub;"
            " its money is on hold",
        )


def _replayed(row, **fields):
    """The row a retry names, if the retry says what it said; 409 `key_reused` otherwise."""
    if any(getattr(row, k) != v for k, v in fields.items()):
        raise conflict(
            "key_reused", "该请求键已用于另一笔记录 This key was used for a different record", id=row.id
        )
    return row


# Verification ---------------------------------------------------------------------------------


def verify(session: Session) -> list[str]:
    """What `linli ledger verify` adds for grant money (the ledger itself is checked with the
    others): each project's custody account holds its tranches and spendings, its spent account
    its spendings, and no project was paid more than its grant. A reversal credits custody and
    debits the spent account by its spending's amount."""
    problems: list[str] = []
    accounts = {key: (credits, debits) for key, credits, debits in repository.money_accounts(session)}
    paid, spent, granted, back = (
        repository.tranche_sums(session),
        repository.spending_sums(session),
        repository.granted(session),
        repository.reversed_sums(session),
    )
    for project_id in sorted(set(paid) | set(spent)):
        custody = accounts.get(f"{LEDGER}:project:{project_id}", (0, 0))
        out = accounts.get(f"{LEDGER}:spent:{project_id}", (0, 0))
        reversed_ = back.get(project_id, 0)
        if custody != (paid.get(project_id, 0) + reversed_, spent.get(project_id, 0)):
            problems.append(
                f"project {project_id}: custody account {custody} does not match its tranches and spendings"
            )
        if out != (spent.get(project_id, 0), reversed_):
            problems.append(f"project {project_id}: spent account does not match its spendings and reversals")
        if paid.get(project_id, 0) > granted.get(project_id, 0):
            problems.append(f"project {project_id}: paid in more than granted")
    return problems
