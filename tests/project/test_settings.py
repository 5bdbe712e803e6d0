import textwrap
from pathlib import Path

import pytest

from kefu.entities import from_config
from kefu.errors import ConfigError
from kefu.knowledge import DEFAULT_MIN_SCORE
from kefu.project.settings import ProjectSettings, load_project, load_settings, parse_settings

from .conftest import TEMPLATE


def problems_of(text: str) -> list[str]:
    settings, problems = parse_settings(textwrap.dedent(text))
    assert (settings is None) == bool(problems)
    return [str(problem) for problem in problems]


def test_template_settings():
    settings = load_settings(TEMPLATE)
    assert settings.languages == ["zh", "en"]
    config = settings.train_config()
    assert (config.encoder, config.epochs, config.dim, config.layers) == ("scratch", 30, 128, 2)
    assert (config.val_fraction, config.augment) == (0.0, 0.3)
    extractor = from_config(settings.entity_config())
    assert [(e.type, e.value) for e in extractor.extract("订单A12345到哪了")] == [("order_id", "A12345")]
    assert {"order_id", "email", "phone", "date", "time", "money"} <= settings.entity_types()


def test_only_name_is_required():
    settings, problems = parse_settings("name: Bot\n")
    assert problems == []
    assert isinstance(settings, ProjectSettings)
    assert settings.languages == ["zh", "en"]
    assert settings.sentiment.enabled is False
    assert settings.knowledge.min_score == pytest.approx(DEFAULT_MIN_SCORE)
    assert settings.entity_config() == {"regexes": {}, "phone_regions": ["CN", "US"]}


def test_train_settings_keep_only_what_is_set():
    # fields the file leaves out take the encoder's defaults, not copies of the scratch defaults
    settings, _ = parse_settings("name: Bot\nnlu:\n  train: {epochs: 7}\n")
    assert settings.train_config().epochs == 7
    assert settings.nlu.train.model_dump(exclude_unset=True) == {"epochs": 7}


def test_unknown_key_names_line_and_suggests():
    assert problems_of("""\
        name: Bot
        langauges: [zh]
        """) == [
        ("kefu.yml:2: unknown key 'langauges' (allowed: name, languages, nlu, entities, knowledge, "
        "sentiment, handoff, privacy, server; did you mean 'languages'?)")
    ]
    [problem] = problems_of("""\
        name: Bot
        nlu:
          train:
            epoch: 3
        """)
    assert problem.startswith("kefu.yml:4: nlu.train: unknown key 'epoch' (allowed: ")
    assert problem.endswith("did you mean 'epochs'?)")
    assert problems_of("name: Bot\nhandoff: {queue: x}\n") == [
        "kefu.yml:2: handoff: unknown key 'queue' (this section takes no settings yet)"
    ]


def test_bad_types_name_the_field_path_and_line():
    assert problems_of("""\
        name: Bot
        languages: [zh, fr]
        nlu:
          encoder: bert
          train: {epochs: many, augment: "0.3"}
        sentiment: {enabled: 1}
        """) == [
        "kefu.yml:2: languages[1]: Input should be 'zh' or 'en' (got 'fr')",
        "kefu.yml:4: nlu.encoder: Input should be 'scratch', 'e5-small' or 'minilm' (got 'bert')",
        "kefu.yml:5: nlu.train.epochs: Input should be a valid integer (got 'many')",
        "kefu.yml:5: nlu.train.augment: Input should be a valid number (got '0.3')",
        "kefu.yml:6: sentiment.enabled: Input should be a valid boolean (got 1)",
    ]


def test_values_out_of_range():
    assert problems_of("""\
        name: Bot
        nlu:
          train:
            epochs: 3
            dim: 130
        knowledge: {min_score: 1.5}
        """) == [
        "kefu.yml:5: nlu.train.dim: 130 is invalid (positive and divisible by heads)",
        "kefu.yml:6: knowledge.min_score: Input should be less than or equal to 1 (got 1.5)",
    ]


def test_entity_settings_are_checked():
    problems = problems_of("""\
        name: Bot
        entities:
          builtins: [email, fax]
          regexes:
            order_id: "[A-Z"
            ticket: ["T\\\\d+", 5]
          phone_regions: [CN, XX]
        """)
    assert problems == [
        ("kefu.yml:3: entities.builtins[1]: Input should be 'email', 'money', 'date', 'time' or 'phone' "
        "(got 'fax')"),
        ("kefu.yml:5: entities.regexes.order_id[0]: invalid regular expression '[A-Z' "
        "(unterminated character set at position 0)"),
        "kefu.yml:6: entities.regexes.ticket[1]: Input should be a valid string (got 5)",
        "kefu.yml:7: entities.phone_regions[1]: unknown phone region 'XX' (expected ISO 3166 codes such as CN, US)",
    ]


def test_missing_blank_and_duplicate_values():
    assert problems_of("languages: [zh]\n") == ["kefu.yml:1: name: required setting is missing"]
    assert problems_of("name: '  '\nlanguages: [en, en]\n") == [
        "kefu.yml:1: name: the bot needs a name",
        "kefu.yml:2: languages: a language is listed twice",
    ]
    assert problems_of("name: A\nname: B\n") == ["kefu.yml:2: duplicate key 'name' (first at line 1)"]
    assert problems_of("") == ["kefu.yml:1: name: required setting is missing"]


def test_not_yaml_or_not_a_mapping():
    assert problems_of("name: Bot\nlanguages: [zh\n") == [
        "kefu.yml:3: invalid YAML: expected ',' or ']', but got '<stream end>'"
    ]
    assert problems_of("- name\n") == ["kefu.yml:1: expected a mapping of settings (name, languages, nlu, ...)"]


def test_load_settings_raises_one_line_naming_the_file(tmp_path: Path):
    (tmp_path / "kefu.yml").write_text("name: Bot\nnlu: {train: {epochs: x, dim: y}}\nextra: 1\n")
    with pytest.raises(ConfigError) as error:
        load_settings(tmp_path)
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith(f"{tmp_path / 'kefu.yml'}:2: nlu.train.dim: ")  # fields in model order
    assert message.endswith("(and 2 more problems)")
    # the file itself works too
    (tmp_path / "kefu.yml").write_text("name: Bot\n")
    assert load_settings(tmp_path / "kefu.yml").name == "Bot"


def test_missing_settings_file_or_folder(tmp_path: Path):
    with pytest.raises(ConfigError, match=r"kefu\.yml: file not found \(is .* a kefu project\?"):
        load_settings(tmp_path)
    with pytest.raises(ConfigError, match="project folder not found"):
        load_settings(tmp_path / "nowhere")


def test_load_project_paths(tmp_path: Path):
    (tmp_path / "kefu.yml").write_text("name: Bot\n", encoding="utf-8")
    project = load_project(tmp_path)
    assert project.root == tmp_path
    assert project.settings.name == "Bot"
    assert project.settings_file == tmp_path / "kefu.yml"
    assert project.nlu_data == tmp_path / "data" / "nlu.yml"
    assert project.domain == tmp_path / "domain.yml"
    assert project.knowledge_dir == tmp_path / "knowledge"
    assert project.models_dir == tmp_path / "models"


def test_server_limits_have_defaults_and_are_checked():
    not_an_origin = "expected an origin such as https://shop.example.com (no path)"
    server = load_settings(TEMPLATE).server
    assert server.cors_origins == ["http://localhost:8000", "http://127.0.0.1:8000"]
    defaults = parse_settings("name: Bot\n")[0].server
    assert (defaults.chat_rate_per_minute, defaults.chat_burst, defaults.max_body_bytes) == (60, 20, 65536)
    assert (defaults.login_max_failures, defaults.login_window_seconds, defaults.cors_origins) == (5, 900, [])
    assert (defaults.login_max_failures_per_user, defaults.login_max_failures_per_address) == (50, 20)
    assert (defaults.poll_rate_per_minute, defaults.poll_burst) == (300, 60)
    assert (defaults.chat_session_rate_per_minute, defaults.chat_session_burst) == (20, 10)
    assert defaults.trusted_proxies == [] and server.trusted_proxies == []
    not_a_network = "expected an IP address or network such as 10.0.0.0/8"
    assert problems_of("""\
        name: Bot
        server:
          chat_burst: 0
          cors_origins: ["*", "https://shop.example.com/", "shop.example.com"]
          trusted_proxies: [127.0.0.1, "::1", 10.0.0.0/8, 10.0.0.1/8, proxy.local]
        """) == [
        "kefu.yml:3: server.chat_burst: Input should be greater than or equal to 1 (got 0)",
        f"kefu.yml:4: server.cors_origins[1]: {not_an_origin}, got 'https://shop.example.com/'",
        f"kefu.yml:4: server.cors_origins[2]: {not_an_origin}, got 'shop.example.com'",
        "kefu.yml:5: server.trusted_proxies[3]: 10.0.0.1/8 has host bits set: the network is 10.0.0.0/8",
        f"kefu.yml:5: server.trusted_proxies[4]: {not_a_network}, got 'proxy.local'",
    ]
