"""``kefu validate DIR``: every problem of a bot project, each as one ``file:LINE: message`` line.

The files are checked in the order the bot uses them, and each check uses what the earlier ones found:

1. ``kefu.yml``: the settings (see :mod:`kefu.project.settings`);
2. ``data/nlu.yml``: loads, has no duplicates, contradictions or thin intents, has examples in every
   language of the bot, and annotated entities of a ``kefu.yml`` regex type match that regex;
3. ``domain.yml``: checked against the intents of the training data and the entity types the bot can
   produce (annotated in the data, the built-in rules, the ``kefu.yml`` regexes); then the slots that
   ``kefu.yml``'s ``privacy.keep_slots`` names must be slots of a valid domain;
4. ``knowledge/``: every FAQ and document file reads, FAQ files have a ``question,answer`` header;
5. the sentiment data, when ``kefu.yml`` enables it: loads, and uses only negative/neutral/positive;
6. the stories of ``tests/*.yml`` (``kefu test``): well formed, and the intents and slots they name exist
   in the domain (when the domain is valid).

Each problem is a :class:`~kefu.problems.Problem`; those that do not stop the bot from working are
warnings, shown as ``file:LINE: warning: message`` (as in the domain validator).
"""

import difflib
import re
from collections import Counter, defaultdict
from pathlib import Path

from kefu.data import Example, load_examples, sentiment_label_issues, validate
from kefu.dialogue import detect_language, load_domain, validate_domain
from kefu.errors import KefuError
from kefu.knowledge.documents import DOCUMENT_SUFFIXES, FAQ_SUFFIXES, read_document, read_faq
from kefu.nlu.oos import OOS_LABEL
from kefu.problems import Problem, errors_only
from kefu.project.settings import (
    DOMAIN_FILE,
    KNOWLEDGE_DIR,
    NLU_FILE,
    SETTINGS_FILE,
    TESTS_DIR,
    ProjectSettings,
    read_settings,
    setting_line,
)
from kefu.stories import check_stories, story_files

# Fewer examples than this in one language and the model barely learns the intent in that language.
MIN_PER_LANGUAGE = 3
LANGUAGE_NAMES = {"zh": "Chinese", "en": "English"}


def validate_project(path: str | Path) -> list[Problem]:
    """Every problem found in the project folder ``path``; an empty list means it is ready to train."""
    root = Path(path)
    if not root.is_dir():
        return [Problem(str(root), None, "project folder not found")]
    settings, problems = read_settings(root)
    examples, nlu_problems = check_nlu(root / NLU_FILE, settings)
    problems += nlu_problems
    domain_problems = check_domain(root / DOMAIN_FILE, examples, settings)
    problems += domain_problems
    if settings is not None and not errors_only(domain_problems):
        problems += check_kept_slots(root / SETTINGS_FILE, settings, root / DOMAIN_FILE)
    problems += check_knowledge(root / KNOWLEDGE_DIR)
    if settings is not None and settings.sentiment.enabled:
        problems += check_sentiment(root / settings.sentiment.data)
    problems += check_story_files(root / TESTS_DIR, None if errors_only(domain_problems) else root / DOMAIN_FILE)
    return problems


def warning(where: str, line: int | None, message: str) -> Problem:
    return Problem(where, line, message, "warning")


# --- training data --------------------------------------------------------------------------------


def check_nlu(path: Path, settings: ProjectSettings | None) -> tuple[list[Example] | None, list[Problem]]:
    """The examples of the NLU data file (None when it cannot be read) and its problems."""
    try:
        examples = load_examples(path)
    except KefuError as error:
        return None, [Problem.from_error(error)]
    problems = validate(examples, source=str(path))
    languages = settings.languages if settings is not None else list(LANGUAGE_NAMES)
    problems += _language_coverage(examples, languages, str(path))
    if settings is not None:
        problems += _regex_annotations(examples, settings)
    return examples, problems


def check_sentiment(path: Path) -> list[Problem]:
    """The problems of the sentiment head's data file."""
    try:
        examples = load_examples(path)
    except KefuError as error:
        return [Problem.from_error(error)]
    return validate(examples, source=str(path)) + sentiment_label_issues(examples)


def _language_coverage(examples: list[Example], languages: list[str], source: str) -> list[Problem]:
    """Warn about intents with (almost) no examples in one of the bot's languages."""
    counts: dict[str, Counter] = defaultdict(Counter)
    first_line: dict[str, int | None] = {}
    for example in examples:
        counts[example.label][detect_language(example.text)] += 1
        first_line.setdefault(example.label, example.line)
    problems = []
    for intent, by_language in counts.items():
        for language in languages:
            count, name = by_language[language], LANGUAGE_NAMES.get(language, language)
            if count >= MIN_PER_LANGUAGE:
                continue
            found = "no" if count == 0 else f"only {count}"
            problems.append(
                warning(
                    source,
                    first_line[intent],
                    f"intent {intent!r} has {found} {name} example{'s' if count != 1 else ''} "
                    f"(at least {MIN_PER_LANGUAGE} recommended, or the model will not know it in {name})",
                )
            )
    return problems


def _regex_annotations(examples: list[Example], settings: ProjectSettings) -> list[Problem]:
    """Warn about annotated entities that the ``kefu.yml`` regex for their type would not find.

    Such a value is usually a typo in the data, or a sign that the pattern is too narrow for what
    customers really type.
    """
    patterns = {
        entity_type: [re.compile(pattern) for pattern in patterns]
        for entity_type, patterns in settings.entities.regexes.items()
    }
    problems = []
    for example in examples:
        for entity in example.entities:
            surface = example.text[entity.start : entity.end]
            rules = patterns.get(entity.type)
            if rules and not any(rule.fullmatch(surface) for rule in rules):
                problems.append(
                    warning(
                        example.source,
                        example.line,
                        f"annotated {entity.type} {surface!r} does not match the kefu.yml pattern for "
                        f"{entity.type}, so the rule extractor would miss it",
                    )
                )
    return problems


# --- domain ---------------------------------------------------------------------------------------


def check_domain(
    path: Path, examples: list[Example] | None, settings: ProjectSettings | None
) -> list[Problem]:
    """The domain file's problems, checked against the intents and entity types of the bot.

    When the data or the settings could not be read, the checks that need them are skipped rather than
    reported as a flood of follow-on errors.
    """
    intents = list(dict.fromkeys(example.label for example in examples)) if examples else None
    entity_types = None
    if examples is not None and settings is not None:
        annotated = {entity.type for example in examples for entity in example.entities}
        entity_types = annotated | settings.entity_types()
    problems = validate_domain(path, intents, entity_types)
    if settings is not None and not errors_only(problems):
        problems += _language_mismatch(path, settings)
    return problems


def _language_mismatch(path: Path, settings: ProjectSettings) -> list[Problem]:
    """Warn when the domain's languages differ from the languages ``kefu.yml`` says the bot speaks."""
    domain = load_domain(path)
    if set(domain.languages) == set(settings.languages):
        return []
    line = next(
        (
            number
            for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
            if text.startswith("languages:")
        ),
        None,
    )
    return [
        warning(
            str(path),
            line,
            f"languages [{', '.join(domain.languages)}] differ from kefu.yml's "
            f"[{', '.join(settings.languages)}]; replies exist only in the domain's languages",
        )
    ]


def check_kept_slots(settings_file: Path, settings: ProjectSettings, domain_file: Path) -> list[Problem]:
    """Warn about ``privacy.keep_slots`` names that are no slot of the (valid) domain: such a typo keeps
    nothing, so the slot it meant is deleted when a conversation closes."""
    slots = list(load_domain(domain_file).slots)
    problems = []
    for index, name in enumerate(settings.privacy.keep_slots):
        if name in slots:
            continue
        close = difflib.get_close_matches(name, slots, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        line = setting_line(settings_file, ("privacy", "keep_slots", index))
        problems.append(
            warning(str(settings_file), line, f"privacy.keep_slots: no slot {name!r} in {domain_file.name}{hint}")
        )
    return problems


# --- stories --------------------------------------------------------------------------------------


def check_story_files(folder: Path, domain_file: Path | None) -> list[Problem]:
    """The problems of the story files in ``folder``; with a (valid) ``domain_file``, intents and slots the
    stories name must be the domain's (or ``out_of_scope``)."""
    files = story_files(folder)
    if not files:
        return []
    intents = slots = None
    if domain_file is not None:
        domain = load_domain(domain_file)
        intents, slots = {*domain.intents, OOS_LABEL}, list(domain.slots)
    return check_stories(files, intents, slots)[1]


# --- knowledge ------------------------------------------------------------------------------------


def check_knowledge(folder: Path) -> list[Problem]:
    """Problems of the knowledge folder: a missing folder is only a warning (the bot works without)."""
    if not folder.is_dir():
        return [warning(str(folder), None, "folder not found; questions no intent covers get the fallback")]
    problems: list[Problem] = []
    passages = 0
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        # hidden files and folders hold things like a saved search index, not knowledge
        if not path.is_file() or any(part.startswith(".") for part in relative.parts):
            continue
        suffix = path.suffix.lower()
        try:
            if suffix in FAQ_SUFFIXES:
                found = read_faq(path)
                problems += _duplicate_questions(path, found)
            elif suffix in DOCUMENT_SUFFIXES:
                found = read_document(path)
            else:
                kinds = ", ".join(FAQ_SUFFIXES + DOCUMENT_SUFFIXES)
                problems.append(warning(str(path), None, f"ignored: not a knowledge file ({kinds})"))
                continue
        except KefuError as error:
            problems.append(Problem.from_error(error))
            continue
        if not found:
            problems.append(warning(str(path), None, "no text, so nothing to answer from"))
        passages += len(found)
    if passages == 0 and not problems:
        problems.append(warning(str(folder), None, "no FAQ (.csv) or document (.md, .txt) files"))
    return problems


def _duplicate_questions(path: Path, passages: list) -> list[Problem]:
    """Warn about FAQ rows that ask the same question again (the later answer would compete)."""
    first: dict[str, str] = {}
    problems = []
    for passage in passages:
        key = " ".join(passage.title.lower().split())
        line = passage.source.rpartition(":")[2]
        if key in first:
            problems.append(
                warning(str(path), int(line) if line.isdigit() else None,
                        f"duplicate question {passage.title!r} (first at line {first[key]})")
            )
        else:
            first[key] = line
    return problems
