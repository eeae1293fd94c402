"""Files made by background jobs (生成的文件): card sheets now, reports later. Kept in the database
so every server process can hand them out; small (a PDF of cards is tens of kilobytes)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, Session, mapped_column

from linli.db import Base, BigId, UTCDateTime


class GeneratedFile(Base):
    __tablename__ = "generated_files"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))  # e.g. card_sheet
    status: Mapped[str] = mapped_column(String(20))  # pending | ready | failed
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    subject: Mapped[str] = mapped_column(String(100))  # what it is about, e.g. "team:17"
    filename: Mapped[str | None] = mapped_column(String(200))
    media_type: Mapped[str | None] = mapped_column(String(100))
    content: Mapped[bytes | None] = mapped_column(LargeBinary)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


def get(session: Session, file_id: int) -> GeneratedFile | None:
    return session.get(GeneratedFile, file_id)
