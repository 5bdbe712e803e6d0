"""``kefu.yml``, the settings file of a bot project, as a Pydantic model, and the project's layout.

A complete ``kefu.yml`` (only ``name`` is required)::

    name: 小店助手 Shop assistant
    languages: [zh, en]              # the languages the bot speaks: "zh", "en" or both
    nlu:
      encoder: scratch               # scratch | e5-small | minilm
      train: {epochs: 30, dim: 128}  # any field of kefu.training.TrainConfig except encoder
    entities:                        # the rule extractors, as kefu.entities.from_config takes them
      regexes: {order_id: "[A-Z]\\d{5,8}"}   # entity type: pattern (or list of patterns)
      builtins: [email, phone, date, time, money]   # default: all of them
      phone_regions: [CN, US]
    knowledge: {min_score: 0.85}     # e5 similarity a knowledge-base answer needs
    sentiment:                       # a sentiment head beside the intents (feeds the handoff policy)
      enabled: true
      data: data/sentiment.csv       # text,label with labels negative / neutral / positive
    handoff: {}                      # reserved for the agent-console settings
    privacy:                         # personal data masked in customer messages before they are stored
      redact: true                   # e-mail, phone, ID and card numbers, IP addresses -> [EMAIL], ...
      patterns: {member_no: "VIP\\d{8}"}   # more kinds: name -> pattern; the placeholder is [MEMBER_NO]
      phone_regions: [CN, US]
      retention_days: 90             # conversations inactive for 90 days are deleted; default: kept forever
      keep_slots: [order_id]         # slot values a closed conversation keeps; the others are deleted
    server:                          # what `kefu serve` lets in (each process counts on its own)
      chat_rate_per_minute: 60       # chat requests per client address and minute; 0: no limit
      chat_burst: 20                 # ... of which this many at once, after a quiet spell
      max_body_bytes: 65536          # a larger request body gets 413
      chat_session_rate_per_minute: 20   # ... and per conversation
      chat_session_burst: 10
      poll_rate_per_minute: 300      # the widget's polls for agent replies per client address, apart
      poll_burst: 60
      login_max_failures: 5          # failed sign-ins per username and address before 429; 0: no limit
      login_max_failures_per_user: 50      # ... per username from any address (a known device is exempt)
      login_max_failures_per_address: 20   # ... per address for any username (a known device is exempt)
      login_window_seconds: 900      # ... counted over this long
      trusted_proxies: [127.0.0.1]   # proxies whose X-Forwarded-For is believed; default [] = none
      cors_origins: [https://shop.example.com]   # sites whose pages call the API; default [] = same origin

Unknown keys are errors, and values are not coerced (``epochs: "30"`` is an error, not 30), so a typo
cannot silently fall back to a default. Problems read ``kefu.yml:LINE: field.path: message``.
"""

import difflib
import ipaddress
import re
import typing
from dataclasses import MISSING, dataclass, fields
from pathlib import Path
from typing import Annotated, Any, Literal

import phonenumbers
import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from kefu.dialogue.domain import LANGUAGES
from kefu.entities import BUILTINS
from kefu.errors import ConfigError
from kefu.knowledge import DEFAULT_MIN_SCORE
from kefu.nlu.train_config import ENCODERS, FieldError, TrainConfig
from kefu.problems import Problem, first_of
from kefu.yaml_lines import LineMap, LineSeq, load_yaml, yaml_problem

SETTINGS_FILE = "kefu.yml"
NLU_FILE = "data/nlu.yml"
SENTIMENT_FILE = "data/sentiment.csv"
DOMAIN_FILE = "domain.yml"
KNOWLEDGE_DIR = "knowledge"
TESTS_DIR = "tests"  # conversation stories (kefu test)
MODELS_DIR = "models"

_TRAIN_SOURCE = "nlu.train"
# the error type of a TrainConfig range check, whose field lets the error point at that key's line instead
# of at the whole nlu: section
_TRAIN_FIELD = "train_field"


class _Section(BaseModel):
    # strict: YAML already gives typed values, so "30" for an int is a mistake worth reporting
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def _train_settings_model() -> type[_Section]:
    """A model with one optional field per TrainConfig field, so each is type-checked at its own line.

    Built from the dataclass so that it follows TrainConfig when fields are added; ``encoder`` is left
    out because ``nlu.encoder`` sets it. Only the fields a file sets are passed on to TrainConfig (the
    defaults here are placeholders: the real ones depend on the encoder).
    """
    hints = typing.get_type_hints(TrainConfig)
    definitions: dict[str, Any] = {}
    for spec in fields(TrainConfig):
        if spec.name == "encoder":
            continue
        if spec.default is not MISSING:
            default = spec.default
        elif spec.default_factory is not MISSING:
            default = Field(default_factory=spec.default_factory)
        else:
            default = ...
        definitions[spec.name] = (hints[spec.name], default)
    return create_model("TrainSettings", __base__=_Section, **definitions)


TrainSettings = _train_settings_model()


class NluSettings(_Section):
    """How the intent model is trained."""

    encoder: Literal[ENCODERS] = "scratch"
    train: TrainSettings = Field(default_factory=TrainSettings)  # type: ignore[valid-type]
    # What the bot answers with: the model as trained (torch), or its encoder exported to ONNX Runtime after
    # training, with fp32 (onnx) or int8 weights (int8), as `kefu export` does by hand. int8 runs e5-small
    # about 4x as fast as PyTorch for some 0.3 points of accuracy.
    runtime: Literal["torch", "onnx", "int8"] = "torch"

    @model_validator(mode="after")
    def _in_range(self) -> "NluSettings":
        # the trainer's own range checks, so a bad value is found by `kefu validate`, not at training
        try:
            self.train_config()
        except FieldError as error:
            raise PydanticCustomError(_TRAIN_FIELD, error.reason(), {"field": error.field}) from None
        return self

    def train_config(self) -> TrainConfig:
        """The training settings: the encoder's defaults, then the fields ``train`` sets."""
        values = self.train.model_dump(exclude_unset=True) | {"encoder": self.encoder}
        return TrainConfig.from_dict(values, source=_TRAIN_SOURCE)


def _valid_pattern(pattern: str) -> str:
    try:
        re.compile(pattern)
    except re.error as error:
        raise ValueError(f"invalid regular expression {pattern!r} ({error})") from None
    return pattern


def _pattern_list(value: Any) -> Any:
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list):
        raise PydanticCustomError("patterns_type", "expected a pattern or a list of patterns")
    return value


def _valid_region(region: str) -> str:
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"unknown phone region {region!r} (expected ISO 3166 codes such as CN, US)")
    return region


Patterns = Annotated[list[Annotated[str, AfterValidator(_valid_pattern)]], BeforeValidator(_pattern_list)]


class EntitySettings(_Section):
    """The rule-based entity extractors (the trained entity head needs no settings)."""

    builtins: list[Literal[BUILTINS]] | None = None  # None: every built-in
    regexes: dict[str, Patterns] = Field(default_factory=dict)
    phone_regions: list[Annotated[str, AfterValidator(_valid_region)]] = Field(
        default_factory=lambda: ["CN", "US"]
    )

    @field_validator("regexes")
    @classmethod
    def _named_types(cls, regexes: dict[str, list[str]]) -> dict[str, list[str]]:
        for entity_type in regexes:
            if not entity_type.strip():
                raise ValueError("an entity type needs a name")
        return regexes


class KnowledgeSettings(_Section):
    """The knowledge base that answers what no intent covers."""

    # the e5 cosine similarity the best passage needs before the bot answers with it
    min_score: float = Field(default=DEFAULT_MIN_SCORE, ge=0.0, le=1.0)


class SentimentSettings(_Section):
    """Sentiment analysis of customer messages (feeds ``policy.handoff_on_negative`` of the domain)."""

    enabled: bool = False
    data: str = Field(default=SENTIMENT_FILE, min_length=1)  # relative to the project folder


class HandoffSettings(_Section):
    """Reserved for how handed-off conversations reach agents; it takes no settings yet."""


class PrivacySettings(_Section):
    """What :mod:`kefu.privacy` masks in customer messages (order ids are not personal data: they stay),
    and how long what the customers said is kept."""

    redact: bool = True
    patterns: dict[str, Annotated[str, AfterValidator(_valid_pattern)]] = Field(default_factory=dict)
    phone_regions: list[Annotated[str, AfterValidator(_valid_region)]] = Field(
        default_factory=lambda: ["CN", "US"]
    )
    # conversations inactive for longer are deleted (the server checks hourly); None keeps them forever
    retention_days: int | None = None
    # slots whose values a closed conversation keeps; the others are deleted when it closes
    keep_slots: list[str] = Field(default_factory=list)

    @field_validator("retention_days")
    @classmethod
    def _at_least_a_day(cls, days: int | None) -> int | None:
        if days is not None and days < 1:
            raise ValueError(
                f"must be at least 1 day, or left out to keep conversations forever (got {days})"
            )
        return days

    @field_validator("keep_slots")
    @classmethod
    def _slot_names(cls, names: list[str]) -> list[str]:
        for name in names:
            if not name.strip():
                raise ValueError("a slot name cannot be blank")
        return names

    @field_validator("patterns")
    @classmethod
    def _named_kinds(cls, patterns: dict[str, str]) -> dict[str, str]:
        # the name becomes the placeholder, [NAME]: a blank or bracketed one would not read as one
        for name in patterns:
            if not re.fullmatch(r"\w+", name):
                raise ValueError(f"a pattern name is letters, digits and _ (got {name!r})")
        return patterns


def _valid_origin(origin: str) -> str:
    # browsers send Origin as scheme://host[:port] exactly; anything else would silently never match
    if origin != "*" and not re.fullmatch(r"https?://[^/?#\s]+", origin):
        raise ValueError(f"expected an origin such as https://shop.example.com (no path), got {origin!r}")
    return origin


def _ip_network(value: str) -> str:
    try:
        ipaddress.ip_network(value)
        return value
    except ValueError:
        pass
    try:  # 10.0.0.1/8 names a network only loosely: say which one
        network = ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise ValueError(f"expected an IP address or network such as 10.0.0.0/8, got {value!r}") from None
    raise ValueError(f"{value} has host bits set: the network is {network}")


class ServerSettings(_Section):
    """Limits of the HTTP server (:mod:`kefu.server`). Each process counts on its own, so ``kefu serve
    --workers N`` lets a client go up to N times the rates."""

    # token buckets for the chat API (a rate of 0: no limit): messages (POST /api/v1/chat) per client
    # address, and per conversation so that one customer cannot use up the address's share of others
    # behind the same NAT; polls (GET .../messages, the widget's every 2 s) per client address, apart
    chat_rate_per_minute: float = Field(default=60, ge=0)
    chat_burst: int = Field(default=20, ge=1)
    chat_session_rate_per_minute: float = Field(default=20, ge=0)
    chat_session_burst: int = Field(default=10, ge=1)
    poll_rate_per_minute: float = Field(default=300, ge=0)
    poll_burst: int = Field(default=60, ge=1)
    # far above the longest message (MAX_MESSAGE_CHARS characters, a few bytes each in JSON)
    max_body_bytes: int = Field(default=65536, ge=1024)
    # failed sign-ins within the window: per username and address pair, per username from anywhere, per
    # address for any usernames (0: no limit); a browser that signed in as the user before is held only
    # to the first
    login_max_failures: int = Field(default=5, ge=0)
    login_max_failures_per_user: int = Field(default=50, ge=0)
    login_max_failures_per_address: int = Field(default=20, ge=0)
    login_window_seconds: int = Field(default=900, ge=1)
    # addresses or networks of reverse proxies in front of the server: only a request from one of them
    # has its X-Forwarded-For (the client's address) and X-Forwarded-Proto believed
    trusted_proxies: list[Annotated[str, AfterValidator(_ip_network)]] = Field(default_factory=list)
    # origins whose pages may call the API from a browser (the widget on another site), "*" for any;
    # $KEFU_CORS_ORIGINS (comma-separated) overrides the list
    cors_origins: list[Annotated[str, AfterValidator(_valid_origin)]] = Field(default_factory=list)


class ProjectSettings(_Section):
    """The contents of ``kefu.yml``."""

    name: str = Field(min_length=1)
    languages: list[Literal[LANGUAGES]] = Field(default_factory=lambda: list(LANGUAGES), min_length=1)
    nlu: NluSettings = Field(default_factory=NluSettings)
    entities: EntitySettings = Field(default_factory=EntitySettings)
    knowledge: KnowledgeSettings = Field(default_factory=KnowledgeSettings)
    sentiment: SentimentSettings = Field(default_factory=SentimentSettings)
    handoff: HandoffSettings = Field(default_factory=HandoffSettings)
    privacy: PrivacySettings = Field(default_factory=PrivacySettings)
    server: ServerSettings = Field(default_factory=ServerSettings)

    @field_validator("name")
    @classmethod
    def _not_blank(cls, name: str) -> str:
        if not name.strip():
            raise ValueError("the bot needs a name")
        return name.strip()

    @field_validator("languages")
    @classmethod
    def _unique(cls, languages: list[str]) -> list[str]:
        if len(set(languages)) != len(languages):
            raise ValueError("a language is listed twice")
        return languages

    def train_config(self) -> TrainConfig:
        """The training settings: ``nlu.encoder``'s defaults, then the fields ``nlu.train`` sets."""
        return self.nlu.train_config()

    def entity_config(self) -> dict[str, Any]:
        """The ``entities`` section in the shape :func:`kefu.entities.from_config` takes."""
        config: dict[str, Any] = {
            "regexes": {name: list(patterns) for name, patterns in self.entities.regexes.items()},
            "phone_regions": list(self.entities.phone_regions),
        }
        if self.entities.builtins is not None:
            config["builtins"] = list(self.entities.builtins)
        return config

    def entity_types(self) -> set[str]:
        """The entity types the configured rules produce."""
        builtins = BUILTINS if self.entities.builtins is None else self.entities.builtins
        return set(builtins) | set(self.entities.regexes)


@dataclass(frozen=True)
class Project:
    """A bot project folder and its settings; the paths are where the files are expected."""

    root: Path
    settings: ProjectSettings

    @property
    def settings_file(self) -> Path:
        return self.root / SETTINGS_FILE

    @property
    def nlu_data(self) -> Path:
        return self.root / NLU_FILE

    @property
    def sentiment_data(self) -> Path | None:
        """The sentiment training file when the sentiment head is enabled, else None."""
        sentiment = self.settings.sentiment
        return self.root / sentiment.data if sentiment.enabled else None

    @property
    def domain(self) -> Path:
        return self.root / DOMAIN_FILE

    @property
    def knowledge_dir(self) -> Path:
        return self.root / KNOWLEDGE_DIR

    @property
    def models_dir(self) -> Path:
        return self.root / MODELS_DIR


def load_project(path: str | Path) -> Project:
    """Read the project in folder ``path``; ConfigError when its ``kefu.yml`` is missing or invalid."""
    root = Path(path)
    return Project(root, load_settings(root))


def load_settings(path: str | Path) -> ProjectSettings:
    """Read ``kefu.yml`` from a project folder (or the file itself); ConfigError naming the first problem."""
    settings, problems = read_settings(path)
    if settings is None:
        raise ConfigError(first_of(problems))
    return settings


def read_settings(path: str | Path) -> tuple[ProjectSettings | None, list[Problem]]:
    """The settings (None when invalid) and every problem, without raising."""
    path = Path(path)
    file = path / SETTINGS_FILE if path.is_dir() else path
    if not path.exists():
        return None, [Problem(str(path), None, "project folder not found")]
    try:
        text = file.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        hint = f"is {path} a kefu project? `kefu init` creates one"
        return None, [Problem(str(file), None, f"file not found ({hint})")]
    except (OSError, UnicodeDecodeError) as error:
        return None, [Problem(str(file), None, f"cannot read file ({error})")]
    return parse_settings(text, str(file))


def parse_settings(text: str, source: str = SETTINGS_FILE) -> tuple[ProjectSettings | None, list[Problem]]:
    """Like :func:`read_settings`, for the text of a settings file."""
    try:
        data, duplicates = load_yaml(text)
    except yaml.YAMLError as error:
        return None, [yaml_problem(error, source)]
    if data is None:
        data = LineMap(1)
    if not isinstance(data, LineMap):
        return None, [Problem(source, 1, "expected a mapping of settings (name, languages, nlu, ...)")]
    # YAML keeps the last of two equal keys without a word; that hides edits, so it is an error here
    problems = [
        Problem(source, line, f"duplicate key {key!r} (first at line {first})")
        for line, key, first in duplicates
    ]
    try:
        settings = ProjectSettings.model_validate(data)
    except ValidationError as error:
        found = [_describe(item, data, source) for item in error.errors()]
        problems += sorted(found, key=lambda problem: problem.line or 0)
        settings = None
    return (None if problems else settings), problems


# --- error messages with line numbers -------------------------------------------------------------


def _describe(error: Any, root: LineMap, source: str) -> Problem:
    """One Pydantic error as ``source:LINE: field.path: message``."""
    loc = tuple(error["loc"])
    message = error["msg"].removeprefix("Value error, ")
    kind = error["type"]
    if kind == _TRAIN_FIELD:
        name = error["ctx"]["field"]
        loc = ("nlu", "encoder") if name == "encoder" else ("nlu", "train", name)
    line = _line_of(root, loc)
    path = _dotted(loc)
    if kind == "extra_forbidden":
        allowed = list(_model_at(loc[:-1]).model_fields) if _model_at(loc[:-1]) else []
        where = f"{_dotted(loc[:-1])}: " if loc[:-1] else ""
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        unknown = f"{where}unknown key {loc[-1]!r}"
        if not allowed:
            return Problem(source, line, f"{unknown} (this section takes no settings yet)")
        return Problem(source, line, f"{unknown} (allowed: {', '.join(allowed)}{hint})")
    if kind == "missing":
        return Problem(source, line, f"{path}: required setting is missing")
    got = error.get("input")
    # a value error's message already says what is wrong with the value
    quoted = not isinstance(got, dict | list) and kind not in ("value_error", _TRAIN_FIELD)
    return Problem(source, line, f"{path}: {message}{f' (got {got!r})' if quoted else ''}")


def _dotted(loc: tuple) -> str:
    """``("entities", "regexes", "order_id", 0)`` -> ``entities.regexes.order_id[0]``."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text


def _model_at(loc: tuple) -> type[BaseModel] | None:
    """The settings model that holds the mapping at ``loc``, for listing its allowed keys."""
    model: type[BaseModel] = ProjectSettings
    for part in loc:
        field = model.model_fields.get(str(part))
        annotation = field.annotation if field is not None else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return None
        model = annotation
    return model


def setting_line(file: Path, loc: tuple) -> int:
    """The line of the setting at ``loc`` (e.g. ``("privacy", "keep_slots", 0)``) in a valid settings file."""
    return _line_of(load_yaml(file.read_text(encoding="utf-8-sig"))[0], loc)


def _line_of(root: Any, loc: tuple) -> int:
    """The line of the deepest key (or list item) of ``loc`` found in the YAML; 1 when none is."""
    node, line = root, 1
    for part in loc:
        found = isinstance(node, LineMap) and part in node
        if not found and not (isinstance(node, LineSeq) and isinstance(part, int) and part < len(node)):
            break
        line, node = node.line_of(part), node[part]
    return line

