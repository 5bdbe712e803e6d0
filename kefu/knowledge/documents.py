"""Read a knowledge folder into passages: FAQ rows from CSV files, chunks of Markdown and text documents.

A knowledge folder holds

* ``*.csv`` FAQ files with a ``question,answer`` header and optional ``id`` and ``lang`` columns. Every row
  becomes one passage; several rows may share an answer (different phrasings of one question).
* ``*.md`` / ``*.markdown`` / ``*.txt`` documents, cut into passages of at most ``max_chars`` characters:
  a new passage starts at every heading, paragraphs (blank-line separated) are merged while they fit, and
  a paragraph that is too long on its own is cut at sentence ends.

Hidden files and folders (a saved index, ``.git``) and other file types are skipped. Problems raise a
one-line :class:`~kefu.errors.DataError` that starts with ``file:line:``, so the CLI can print it as is.
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from kefu.data.loaders import delimited_records
from kefu.errors import DataError

FAQ_SUFFIXES = (".csv",)
DOCUMENT_SUFFIXES = (".md", ".markdown", ".txt")
MAX_CHARS = 500
# A chunk shorter than this takes in the next paragraph of its section (if the sum still fits MAX_CHARS).
MERGE_BELOW = 240

_HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")
# Cut a long paragraph after sentence-final punctuation (Chinese needs no space after it).
_SENTENCE_END = re.compile(r"(?<=[。！？；!?;])|(?<=[.:])\s+")


@dataclass(frozen=True)
class Passage:
    """One retrievable unit.

    ``text_for_search`` is what the retrievers index (an FAQ question plus its answer, or a document chunk
    with its heading); ``answer`` is what the bot replies with. ``source`` says where it came from, as
    ``faq.csv:12`` (file and line) or ``shipping.md#Delivery times`` (file and heading).
    """

    id: str
    text_for_search: str
    answer: str
    source: str
    title: str = ""
    lang: str = ""


def load_folder(
    root: str | Path, max_chars: int = MAX_CHARS, faq_search_text: str = "question+answer"
) -> list[Passage]:
    """Read every FAQ and document file under ``root`` (recursively, in path order) into passages.

    ``faq_search_text`` is ``"question+answer"`` (index the answer words too, so a query that uses the
    answer's vocabulary still finds it) or ``"question"``.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: knowledge folder not found")
    passages: list[Passage] = []
    for path in _knowledge_files(root):
        name = path.relative_to(root).as_posix()
        if path.suffix.lower() in FAQ_SUFFIXES:
            passages.extend(read_faq(path, name=name, search_text=faq_search_text))
        else:
            passages.extend(read_document(path, name=name, max_chars=max_chars))
    if not passages:
        raise DataError(
            f"{root}: no passages found (expected {', '.join(FAQ_SUFFIXES + DOCUMENT_SUFFIXES)} files)"
        )
    seen: dict[str, str] = {}
    for passage in passages:
        if passage.id in seen:
            raise DataError(
                f"{passage.source}: duplicate id {passage.id!r} (first used at {seen[passage.id]})"
            )
        seen[passage.id] = passage.source
    return passages


def _knowledge_files(root: Path) -> list[Path]:
    suffixes = FAQ_SUFFIXES + DOCUMENT_SUFFIXES
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file()
        and p.suffix.lower() in suffixes
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )


def read_faq(
    path: str | Path, name: str | None = None, search_text: str = "question+answer"
) -> list[Passage]:
    """Read one FAQ CSV file; ``name`` (default: the file name) is used in ids and sources."""
    if search_text not in ("question", "question+answer"):
        raise ValueError(f"search_text must be 'question' or 'question+answer', not {search_text!r}")
    path = Path(path)
    name = name or path.name
    text = read_text(path)
    records = delimited_records(text, str(path), ",")
    first = next(records, None)
    if first is None:
        raise DataError(f"{path}:1: empty FAQ file (expected a 'question,answer' header)")
    columns = {field.strip().lower(): i for i, field in enumerate(first[1])}
    for needed in ("question", "answer"):
        if needed not in columns:
            found = ", ".join(first[1]) or "nothing"
            raise DataError(f"{path}:{first[0]}: missing column '{needed}' (header has: {found})")

    def field(row: list[str], column: str) -> str:
        index = columns.get(column)
        return row[index].strip() if index is not None and index < len(row) else ""

    passages = []
    for line, row in records:
        question, answer = field(row, "question"), field(row, "answer")
        if not question:
            raise DataError(f"{path}:{line}: empty question")
        if not answer:
            raise DataError(f"{path}:{line}: empty answer")
        source = f"{name}:{line}"
        search = question if search_text == "question" else f"{question}\n{answer}"
        passages.append(
            Passage(
                field(row, "id") or source, search, answer, source, title=question, lang=field(row, "lang")
            )
        )
    if not passages:
        raise DataError(f"{path}:{first[0]}: no FAQ rows after the header")
    return passages


def read_document(path: str | Path, name: str | None = None, max_chars: int = MAX_CHARS) -> list[Passage]:
    """Cut one Markdown or text file into passages; ``name`` (default: the file name) is used in sources.

    Each passage keeps the nearest heading above it as ``title`` (the file's stem before any heading) and
    is searched as title plus text, since a heading often names the topic its paragraphs never repeat.
    """
    path = Path(path)
    name = name or path.name
    markdown = path.suffix.lower() != ".txt"
    passages = []
    pieces_at: dict[int, int] = {}
    for title, line, text in _chunks(read_text(path), markdown, max_chars):
        source = f"{name}#{title}" if title else name
        shown = title or path.stem
        # the id is file:line; the pieces of a paragraph cut in several share its line, hence ".2", ".3"
        pieces_at[line] = pieces_at.get(line, 0) + 1
        suffix = f".{pieces_at[line]}" if pieces_at[line] > 1 else ""
        passages.append(Passage(f"{name}:{line}{suffix}", f"{shown}\n{text}", text, source, title=shown))
    return passages


def _chunks(text: str, markdown: bool, max_chars: int) -> Iterator[tuple[str, int, str]]:
    """Yield (heading, first line, text) chunks of at most ``max_chars`` characters."""
    for title, paragraphs in _sections(text, markdown):
        pieces = [(line, piece) for line, para in paragraphs for piece in _split_long(para, max_chars)]
        chunk: list[str] = []
        chunk_line = 0
        for line, piece in pieces:
            # Merge small paragraphs, but stop adding to a chunk that is already a fair size: a passage
            # about one thing ranks better than one diluted with the next topic.
            size = len("\n\n".join(chunk))
            if chunk and (size >= min(MERGE_BELOW, max_chars) or size + 2 + len(piece) > max_chars):
                yield title, chunk_line, "\n\n".join(chunk)
                chunk = []
            if not chunk:
                chunk_line = line
            chunk.append(piece)
        if chunk:
            yield title, chunk_line, "\n\n".join(chunk)


def _sections(text: str, markdown: bool) -> Iterator[tuple[str, list[tuple[int, str]]]]:
    """Yield (heading, [(first line, paragraph), ...]) per section; lines inside code fences stay put."""
    title, paragraphs, current, current_line, fenced = "", [], [], 0, False

    def flush() -> None:
        nonlocal current
        if current:
            paragraphs.append((current_line, "\n".join(current).strip()))
            current = []

    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.rstrip()
        if markdown and _FENCE.match(line):
            fenced = not fenced
        heading = _HEADING.match(line) if markdown and not fenced else None
        if heading:
            flush()
            if paragraphs:
                yield title, paragraphs
            title, paragraphs = heading.group(2), []
        elif not line.strip() and not fenced:
            flush()
        else:
            if not current:
                current_line = number
            current.append(line)
    flush()
    if paragraphs:
        yield title, paragraphs


def _split_long(paragraph: str, max_chars: int) -> list[str]:
    """Cut a paragraph longer than ``max_chars`` at sentence ends, and hard-cut a sentence that is still
    too long (better a cut word than a passage the retrievers cannot match or the bot cannot show)."""
    if len(paragraph) <= max_chars:
        return [paragraph]
    pieces, current = [], ""
    for sentence in (s.strip() for s in _SENTENCE_END.split(paragraph)):
        while len(sentence) > max_chars:
            if current:
                pieces.append(current)
                current = ""
            pieces.append(sentence[:max_chars].strip())
            sentence = sentence[max_chars:].strip()
        if not sentence:
            continue
        if current and len(current) + 1 + len(sentence) > max_chars:
            pieces.append(current)
            current = ""
        current = _join(current, sentence)
    if current:
        pieces.append(current)
    return pieces


def _join(left: str, right: str) -> str:
    """Join two sentences with a space, except between CJK characters (Chinese uses none)."""
    if not left:
        return right
    if _is_cjk(left[-1]) or _is_cjk(right[0]):
        return left + right
    return f"{left} {right}"


def _is_cjk(char: str) -> bool:
    return "\u3000" <= char <= "\u9fff" or "\uff00" <= char <= "\uffef"


def read_text(path: Path) -> str:
    """Read a UTF-8 file (a BOM is allowed); undecodable bytes raise DataError naming file and line."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise DataError(f"{path}: cannot read file ({error.strerror})") from None
    try:
        return data.decode("utf-8-sig").replace("\r\n", "\n")
    except UnicodeDecodeError as error:
        line = error.object.count(b"\n", 0, error.start) + 1
        raise DataError(
            f"{path}:{line}: not valid UTF-8 (byte 0x{error.object[error.start]:02x}); save the file as UTF-8"
        ) from None
