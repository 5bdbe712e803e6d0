"""Read entity annotations: inline Rasa markup, span JSON, BIO/BIOES tag sequences and BIO datasets.

Every reader returns the plain text and a list of :class:`Entity` (``source="annotation"``) with
character offsets into that text, so the three formats of one sentence compare equal. Problems with
the data raise :class:`DataError` whose message starts with ``file:line:`` where one is known.
"""

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from kefu.entities.spans import Entity
from kefu.errors import DataError

ANNOTATION = "annotation"

# [value](type), [value](type:canonical) (old Rasa synonyms), [value]{"entity": "type", "value": ...}
_INLINE = re.compile(r"\[(?P<text>[^\[\]]+)\](?:\((?P<paren>[^()]*)\)|(?P<json>\{[^{}]*\}))")
# B-city, I-city, E-city, S-city (BIOES), L-/U- (BILOU), M- (a common name for I- in Chinese data),
# with "-" or "." between prefix and type
_TAG = re.compile(r"(?P<prefix>[BIMELSU])[-.](?P<type>.+)")
# scripts written without spaces between words: CJK ideographs and punctuation, kana, Hangul syllables,
# full-width forms
UNSPACED = re.compile(r"[\u3000-\u303f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]")


def _where(where: str) -> str:
    return f"{where}: " if where else ""


# ---------------------------------------------------------------------------------------------------
# inline markup


def parse_inline(text: str, where: str = "") -> tuple[str, list[Entity]]:
    """Strip Rasa entity markup from ``text``; return the plain text and the annotated entities.

    ``I want to track order [A12345](order_id)`` gives ``I want to track order A12345`` and one
    ``order_id`` entity over ``A12345``. A ``"value"`` in the JSON form (or ``type:canonical`` in the
    old paren form) becomes the entity's value; the span still covers the text as written. Brackets
    that are not followed by ``(...)`` or ``{...}`` are ordinary text. ``where`` (e.g. ``"nlu.yml:12"``)
    prefixes error messages.
    """
    parts: list[str] = []
    entities: list[Entity] = []
    length = 0  # length of the plain text built so far
    last = 0
    for match in _INLINE.finditer(text):
        before = text[last : match.start()]
        parts.append(before)
        length += len(before)
        surface = match.group("text")
        entity_type, value = _inline_label(match, where)
        entities.append(Entity(entity_type, value if value is not None else surface, length,
                               length + len(surface), ANNOTATION))
        parts.append(surface)
        length += len(surface)
        last = match.end()
    parts.append(text[last:])
    return "".join(parts), entities


def _inline_label(match: re.Match, where: str) -> tuple[str, str | None]:
    """The entity type and the canonical value (None: the surface form) of one inline annotation."""
    markup = match.group(0)
    if match.group("json") is not None:
        try:
            label = json.loads(match.group("json"))
        except json.JSONDecodeError as error:
            raise DataError(f"{_where(where)}invalid JSON in entity annotation {markup!r} ({error.msg})") from None
        entity_type = label.get("entity") if isinstance(label, dict) else None
        value = label.get("value") if isinstance(label, dict) else None
        if value is not None and not isinstance(value, str):
            value = str(value)
    else:
        entity_type, _, value = match.group("paren").partition(":")
        entity_type, value = entity_type.strip(), value.strip() or None
    if not isinstance(entity_type, str) or not entity_type.strip():
        raise DataError(f"{_where(where)}entity annotation {markup!r} names no entity type")
    return entity_type.strip(), value


# ---------------------------------------------------------------------------------------------------
# span JSON


def from_span_json(obj: object, source: str = "<input>", line: int | None = None) -> tuple[str, list[Entity]]:
    """Read ``{"text": ..., "entities": [{"type"|"entity", "start", "end", "value"?}, ...]}``.

    Offsets are character offsets, ``end`` exclusive. They must lie inside the text, and a given
    ``value`` must equal ``text[start:end]`` (the usual symptom of an off-by-one offset). Errors name
    ``source:line``. Entities come back sorted by position.
    """
    where = f"{source}:{line}" if line is not None else source
    if not isinstance(obj, Mapping):
        raise DataError(f"{where}: expected an object with 'text' and 'entities', got {type(obj).__name__}")
    text = obj.get("text")
    if not isinstance(text, str):
        raise DataError(f"{where}: 'text' is missing or not a string")
    items = obj.get("entities", [])
    if not isinstance(items, list):
        raise DataError(f"{where}: 'entities' must be a list")
    entities = [_span_entity(text, item, f"{where}: entity {number}")
                for number, item in enumerate(items, start=1)]
    return text, sorted(entities, key=lambda entity: (entity.start, entity.end))


def _span_entity(text: str, item: object, where: str) -> Entity:
    if not isinstance(item, Mapping):
        raise DataError(f"{where}: expected an object, got {type(item).__name__}")
    entity_type = item.get("type", item.get("entity"))
    if not isinstance(entity_type, str) or not entity_type.strip():
        raise DataError(f"{where}: 'type' (or 'entity') is missing or empty")
    offsets = []
    for key in ("start", "end"):
        offset = item.get(key)
        # bool is an int subclass; true/false as an offset is a mistake, not 1/0
        if not isinstance(offset, int) or isinstance(offset, bool):
            raise DataError(f"{where}: '{key}' is missing or not an integer")
        offsets.append(offset)
    start, end = offsets
    if not 0 <= start < end <= len(text):
        raise DataError(
            f"{where}: span [{start}, {end}) is not inside the text (length {len(text)}) or is empty"
        )
    surface = text[start:end]
    value = item.get("value")
    if value is not None and value != surface:
        raise DataError(f"{where}: value {value!r} does not match text[{start}:{end}] = {surface!r}")
    return Entity(entity_type.strip(), surface, start, end, ANNOTATION)


def read_span_jsonl(path: str | Path) -> list[tuple[str, list[Entity]]]:
    """Read a JSON Lines file of span objects (blank lines skipped); errors name ``file:line``."""
    source = str(path)
    try:
        lines = Path(path).read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise DataError(f"{source}: cannot read file ({error})") from None
    records = []
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as error:
            raise DataError(f"{source}:{number}: invalid JSON ({error.msg})") from None
        records.append(from_span_json(obj, source, number))
    return records


# ---------------------------------------------------------------------------------------------------
# BIO / BIOES tags


def join_tokens(tokens: Sequence[str], lang_join: str | None = None) -> tuple[str, list[tuple[int, int]]]:
    """Join tokens into a text; return it with each token's ``(start, end)`` character offsets.

    With ``lang_join=None`` the separator follows the script, as the source datasets write it: nothing
    next to a CJK (or other unspaced-script) character, one space between two Latin/digit tokens, and
    nothing next to a token that is itself whitespace. A string forces that separator everywhere
    (``""`` for character-per-line data such as CAIS, where Latin letters are split one per line too).
    """
    parts: list[str] = []
    offsets: list[tuple[int, int]] = []
    length = 0
    previous = ""
    for token in tokens:
        separator = _separator(previous, token) if lang_join is None else lang_join
        if offsets:  # no separator before the first token
            parts.append(separator)
            length += len(separator)
        parts.append(token)
        offsets.append((length, length + len(token)))
        length += len(token)
        previous = token
    return "".join(parts), offsets


def _separator(left: str, right: str) -> str:
    if not left or not right:
        return ""
    a, b = left[-1], right[0]
    if a.isspace() or b.isspace() or UNSPACED.match(a) or UNSPACED.match(b):
        return ""
    return " "


def parse_tag(tag: str) -> tuple[str, str | None]:
    """Split a tag into its prefix and type: ``"B-city"`` -> ``("B", "city")``, ``"O"`` -> ``("O", None)``.

    BILOU's ``L``/``U`` and the ``M`` (middle) of some Chinese data sets map to ``E``/``S``/``I``.
    """
    if tag == "O":
        return "O", None
    match = _TAG.fullmatch(tag)
    if match is None:
        raise ValueError(f"unknown tag {tag!r} (expected O, or B-/I-/E-/S- followed by a type)")
    prefix = {"L": "E", "U": "S", "M": "I"}.get(match.group("prefix"), match.group("prefix"))
    return prefix, match.group("type")


def decode_tags(tags: Sequence[str]) -> list[tuple[str, int, int]]:
    """Turn BIO or BIOES tags into ``(type, first_token, last_token)`` spans (inclusive token indices).

    Decoding is lenient, like conlleval: an ``I-``/``E-`` that does not continue an entity of the same
    type starts a new one instead of being dropped.
    """
    spans: list[tuple[str, int, int]] = []
    current: list = []  # [type, first, last] of the open entity, empty when none

    def close() -> None:
        if current:
            spans.append((current[0], current[1], current[2]))
            current.clear()

    for index, tag in enumerate(tags):
        prefix, entity_type = parse_tag(tag)
        if prefix == "O":
            close()
            continue
        continues = bool(current) and current[0] == entity_type and prefix in ("I", "E")
        if continues:
            current[2] = index
        else:
            close()
            current.extend([entity_type, index, index])
        if prefix in ("E", "S"):
            close()
    close()
    return spans


def from_bio(
    tokens: Sequence[str], tags: Sequence[str], lang_join: str | None = None, *, where: str = ""
) -> tuple[str, list[Entity]]:
    """Join ``tokens`` (see :func:`join_tokens`) and turn their BIO/BIOES ``tags`` into entities.

    ``where`` (e.g. ``"seq.out:12"``) prefixes error messages.
    """
    if len(tokens) != len(tags):
        raise DataError(f"{_where(where)}{len(tags)} tags for {len(tokens)} tokens")
    text, offsets = join_tokens(tokens, lang_join)
    try:
        spans = decode_tags(tags)
    except ValueError as error:
        raise DataError(f"{_where(where)}{error}") from None
    entities = []
    for entity_type, first, last in spans:
        start, end = offsets[first][0], offsets[last][1]
        entities.append(Entity(entity_type, text[start:end], start, end, ANNOTATION))
    return text, entities


def to_bio(entities: Iterable[Entity], offsets: Sequence[tuple[int, int]], scheme: str = "BIO") -> list[str]:
    """Per-token tags for character-span ``entities``, given each token's ``(start, end)`` offsets.

    A token overlapping an entity is tagged with it: ``B-`` for the first such token, ``I-`` after
    (with ``scheme="BIOES"``: ``S-`` for a one-token entity, ``E-`` for the last). Where entities
    overlap, the one starting first (the longer on a tie) keeps the shared tokens. Empty tokens get ``O``.
    """
    if scheme not in ("BIO", "BIOES"):
        raise ValueError(f"unknown tagging scheme {scheme!r} (expected BIO or BIOES)")
    tags = ["O"] * len(offsets)
    for entity in sorted(entities, key=lambda e: (e.start, -(e.end - e.start))):
        covered = [
            index for index, (start, end) in enumerate(offsets)
            if start < end and start < entity.end and end > entity.start and tags[index] == "O"
        ]
        for position, index in enumerate(covered):
            if scheme == "BIOES" and len(covered) == 1:
                prefix = "S"
            elif position == 0:
                prefix = "B"
            elif scheme == "BIOES" and position == len(covered) - 1:
                prefix = "E"
            else:
                prefix = "I"
            tags[index] = f"{prefix}-{entity.type}"
    return tags


# ---------------------------------------------------------------------------------------------------
# BIO data sets as distributed


def read_bio_dataset(path: str | Path, split: str | None = None) -> list[tuple[str, str, list[Entity]]]:
    """Read one split of a slot-filling data set; return ``(text, intent, entities)`` per utterance.

    Two layouts are recognised:

    * CoNLL style (CAIS): ``<dir>/*.<split>`` holds one character, a space and a BIOES tag per line,
      a blank line after each utterance, and ``<that file>.intent`` one intent per utterance. ``path``
      may also be such a file itself. Characters are joined with no separator, so Latin letters and
      spaces (which CAIS gives a line each) come out as written.
    * SNIPS style: ``<dir>/<split>/`` (or ``path`` itself) holds ``seq.in`` (space-separated tokens),
      ``seq.out`` (one BIO tag per token) and ``label`` (the intent), aligned line by line. Tokens are
      joined with one space, so runs of spaces and trailing spaces in ``seq.in`` are collapsed.
    """
    root = Path(path)
    if root.is_file():
        return _read_conll(root)
    if not root.is_dir():
        raise DataError(f"{path}: no such file or directory")
    for folder in ([root / split] if split else []) + [root]:
        if (folder / "seq.in").is_file():
            return _read_snips(folder)
    if split:
        conll = sorted(file for file in root.glob(f"*.{split}") if file.with_name(file.name + ".intent").is_file())
        if conll:
            return _read_conll(conll[0])
    wanted = f"'{split}/seq.in' or '*.{split}' with '*.{split}.intent'" if split else "'seq.in'"
    raise DataError(f"{path}: no BIO data set found (looked for {wanted})")


def _lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise DataError(f"{path}: cannot read file ({error})") from None


def _read_conll(path: Path) -> list[tuple[str, str, list[Entity]]]:
    intent_path = path.with_name(path.name + ".intent")
    if not intent_path.is_file():
        raise DataError(f"{path}: intent file {intent_path.name} not found next to it")
    blocks: list[tuple[int, list[str], list[str]]] = []  # (first line number, tokens, tags)
    tokens: list[str] = []
    tags: list[str] = []
    lines = _lines(path)
    for number, line in enumerate(lines, start=1):
        # a line that is all whitespace ends the utterance; a space *character* line reads "  O"
        if not line.strip() or line.startswith("-DOCSTART-"):
            if tokens:
                blocks.append((number - len(tokens), tokens, tags))
                tokens, tags = [], []
            continue
        separator = "\t" if "\t" in line else " "
        token, found, tag = line.rpartition(separator)
        if not found or not token or not tag:
            raise DataError(f"{path}:{number}: expected a token and a tag, got {line!r}")
        tokens.append(token)
        tags.append(tag.strip())
    if tokens:
        blocks.append((len(lines) - len(tokens) + 1, tokens, tags))
    intents = [line.strip() for line in _lines(intent_path) if line.strip()]
    if len(intents) != len(blocks):
        raise DataError(f"{intent_path}: {len(intents)} intents for {len(blocks)} utterances in {path.name}")
    records = []
    for (number, block_tokens, block_tags), intent in zip(blocks, intents):
        text, entities = from_bio(block_tokens, block_tags, lang_join="", where=f"{path}:{number}")
        records.append((text, intent, entities))
    return records


def _read_snips(folder: Path) -> list[tuple[str, str, list[Entity]]]:
    files = {name: folder / name for name in ("seq.in", "seq.out", "label")}
    for name, file in files.items():
        if not file.is_file():
            raise DataError(f"{folder}: {name} not found")
    texts, tag_lines, labels = (_lines(files[name]) for name in ("seq.in", "seq.out", "label"))
    if not len(texts) == len(tag_lines) == len(labels):
        raise DataError(
            f"{folder}: seq.in, seq.out and label have {len(texts)}, {len(tag_lines)} and {len(labels)} lines"
        )
    records = []
    for number, (text, tag_line, label) in enumerate(zip(texts, tag_lines, labels), start=1):
        if not text.strip() or not label.strip():
            raise DataError(f"{files['seq.in' if not text.strip() else 'label']}:{number}: empty line")
        plain, entities = from_bio(text.split(), tag_line.split(), lang_join=" ",
                                   where=f"{files['seq.out']}:{number}")
        records.append((plain, label.strip(), entities))
    return records
