"""Text that fits the page (版面排字) for every PDF Linli draws with reportlab: Chinese in a CID
font the PDF viewer supplies (STSong-Light, so the server needs no font files), measured with
reportlab's own `stringWidth`, wrapped to a width and shrunk only where one unbreakable token
(a long number, a URL) cannot fit a line. Nothing is cut: every character given is drawn."""

from __future__ import annotations

FONT = "STSong-Light"
MIN_SIZE = 6.0
NO_LINE_START = set("，。、；：？！）》」』】%,.;:?!)")


def register() -> str:
    """The CID font, registered once per process; returns its name."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont

    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    return FONT


def width_of(text: str, font: str, size: float) -> float:
    from reportlab.pdfbase.pdfmetrics import stringWidth

    return stringWidth(text, font, size)


def _tokens(text: str) -> list[str]:
    """Break points: between any two CJK characters, and at spaces between Latin words and numbers
    (a run of ASCII letters, digits and punctuation stays whole)."""
    out: list[str] = []
    word = ""
    for ch in text:
        if ch.isascii() and not ch.isspace():
            word += ch
            continue
        if word:
            out.append(word)
            word = ""
        out.append(ch)
    if word:
        out.append(word)
    return out


def wrap(text: str, font: str, size: float, width: float) -> list[str]:
    """Lines no wider than `width` at `size` (a single token wider than the line stays whole on its
    own line: `fit` shrinks it). Leading spaces of a continued line are dropped."""
    lines: list[str] = []
    for paragraph in (text or "").split("\n"):
        line = ""
        for token in _tokens(paragraph):
            if line and width_of(line + token, font, size) > width:
                if token in NO_LINE_START and len(line) > 1 and not line[-1].isascii():
                    line, token = line[:-1], line[-1] + token  # 禁则: take a character along
                lines.append(line.rstrip())
                line = token.lstrip() if token.isspace() else token
            else:
                line += token
        lines.append(line.rstrip())
    return lines


def fit(
    text: str, font: str, size: float, width: float, min_size: float = MIN_SIZE
) -> list[tuple[str, float]]:
    """Wrapped lines, each with the size to draw it at: `size`, except a line that is one token
    too wide for the width (`wrap` puts such a token on a line of its own), which is shrunk as far
    as it needs (never below `min_size`; a token wider still is split by characters)."""
    out: list[tuple[str, float]] = []
    for line in wrap(text, font, size, width):
        w = width_of(line, font, size)
        if w <= width:
            out.append((line, size))
            continue
        small = max(min_size, size * width / w * 0.999)
        while width_of(line, font, small) > width and len(line) > 1:  # the last resort
            n = len(line)
            while n > 1 and width_of(line[:n], font, small) > width:
                n -= 1
            out.append((line[:n], small))
            line = line[n:]
        out.append((line, small))
    return out


def draw(
    c,
    text: str,
    x: float,
    y: float,
    width: float,
    size: float,
    *,
    font: str = FONT,
    leading: float = 1.35,
    align: str = "left",
) -> float:
    """Draw `text` wrapped into a box `width` wide whose first baseline is `y`; returns the
    baseline below the last line (where the next text may start)."""
    for line, s in fit(text, font, size, width):
        c.setFont(font, s)
        if align == "center":
            c.drawCentredString(x + width / 2, y, line)
        elif align == "right":
            c.drawRightString(x + width, y, line)
        else:
            c.drawString(x, y, line)
        y -= size * leading
    c.setFont(font, size)
    return y


def height_of(text: str, width: float, size: float, *, font: str = FONT, leading: float = 1.35) -> float:
    return len(fit(text, font, size, width)) * size * leading


def shrink_to(
    paragraphs: list[str],
    width: float,
    size: float,
    height: float,
    *,
    font: str = FONT,
    leading: float = 1.35,
    min_size: float = MIN_SIZE,
) -> float:
    """The largest size, `size` or below, at which the paragraphs wrapped to `width` fit `height`."""
    while (
        size > min_size
        and sum(height_of(p, width, size, font=font, leading=leading) for p in paragraphs) > height
    ):
        size = max(min_size, size * 0.9)
    return size
