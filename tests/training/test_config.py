import pytest

from kefu.errors import ConfigError
from kefu.training import TrainConfig


def test_unknown_field_is_named(tmp_path):
    path = tmp_path / "c.yml"
    path.write_text("dim: 64\nlearning_rate: 0.1\n")
    with pytest.raises(ConfigError, match="c.yml: unknown config field 'learning_rate'"):
        TrainConfig.from_file(path)


@pytest.mark.parametrize("field,value", [("schedule", "bogus"), ("dropout", 1.5), ("epochs", 0), ("dim", 30)])
def test_invalid_values_are_named(field, value):
    with pytest.raises(ConfigError, match=f"'{field}'"):
        TrainConfig(**{field: value})


def test_yaml_and_json_files(tmp_path):
    (tmp_path / "c.json").write_text('{"dim": 64, "schedule": "linear"}')
    (tmp_path / "c.yml").write_text("dim: 64\nschedule: linear\n")
    assert TrainConfig.from_file(tmp_path / "c.json") == TrainConfig.from_file(tmp_path / "c.yml")
    assert TrainConfig.from_file(tmp_path / "c.yml").dim == 64


def test_invalid_value_in_a_file_names_the_file(tmp_path):
    path = tmp_path / "bad.yml"
    path.write_text("dim: -3\n")
    with pytest.raises(ConfigError, match=r"bad.yml: config field 'dim' = -3 is invalid"):
        TrainConfig.from_file(path)
