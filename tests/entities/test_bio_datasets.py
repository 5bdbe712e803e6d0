"""The BIO data set reader on tiny copies of the CAIS and SNIPS layouts as they are distributed."""

import pytest

from kefu.entities import join_tokens, read_bio_dataset, to_bio
from kefu.errors import DataError

# CAIS: ch.<split> has "<char> <BIOES tag>" per line (a space character reads "  O"), a blank line
# after each utterance; ch.<split>.intent one intent per utterance
CAIS_TEST = (
    "我 O\n要 O\n听 O\n吴 B-singer_name\n雨 I-singer_name\n霏 E-singer_name\n的 O\n歌 O\n"
    "\n"
    "我 O\n要 O\n听 O\nt B-singer_name\nf I-singer_name\nb I-singer_name\no I-singer_name\ny I-singer_name\n"
    "s E-singer_name\n唱 O\n的 O\n歌 O\n。 O\n"
    "\n"
    "今 B-date\n天 E-date\n冷 O\n吗 O\n"
    "\n"
    "放 O\n许 B-singer_name\n嵩 E-singer_name\n  O\n雅 S-song_name\n"  # no blank line at the end
)
CAIS_INTENTS = "PlayMusic\nPlayMusic\nGetWeather\nPlayMusic\n"
CAIS_EXPECTED = [
    ("我要听吴雨霏的歌", "PlayMusic", [("singer_name", "吴雨霏", 3, 6)]),
    ("我要听tfboys唱的歌。", "PlayMusic", [("singer_name", "tfboys", 3, 9)]),
    ("今天冷吗", "GetWeather", [("date", "今天", 0, 2)]),
    ("放许嵩 雅", "PlayMusic", [("singer_name", "许嵩", 1, 3), ("song_name", "雅", 4, 5)]),
]

# SNIPS: <split>/seq.in (space-separated tokens, sometimes with double or trailing spaces), seq.out
# (one BIO tag per token, a trailing space) and label, aligned line by line
SNIPS_IN = "add sabrina salerno to the grime instrumentals playlist\nwill it snow in mt on june 13  2038 \n"
SNIPS_OUT = ("O B-artist I-artist O O B-playlist I-playlist O \n"
             "O O B-condition_description O B-state O B-timeRange I-timeRange I-timeRange \n")
SNIPS_LABEL = "AddToPlaylist\nGetWeather\n"
SNIPS_EXPECTED = [
    ("add sabrina salerno to the grime instrumentals playlist", "AddToPlaylist",
     [("artist", "sabrina salerno", 4, 19), ("playlist", "grime instrumentals", 27, 46)]),
    ("will it snow in mt on june 13 2038", "GetWeather",
     [("condition_description", "snow", 8, 12), ("state", "mt", 16, 18), ("timeRange", "june 13 2038", 22, 34)]),
]


def write(folder, files):
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (folder / name).write_text(content, encoding="utf-8")


@pytest.fixture()
def cais(tmp_path):
    write(tmp_path / "cais", {"ch.test": CAIS_TEST, "ch.test.intent": CAIS_INTENTS, "README.txt": "CAIS"})
    return tmp_path / "cais"


@pytest.fixture()
def snips(tmp_path):
    write(tmp_path / "snips" / "test", {"seq.in": SNIPS_IN, "seq.out": SNIPS_OUT, "label": SNIPS_LABEL})
    return tmp_path / "snips"


def simplify(records):
    return [(text, intent, [(e.type, e.value, e.start, e.end) for e in entities]) for text, intent, entities in records]


@pytest.mark.parametrize("layout, where, expected", [
    ("cais", ("", "test"), CAIS_EXPECTED),
    ("cais", ("ch.test", None), CAIS_EXPECTED),
    ("snips", ("", "test"), SNIPS_EXPECTED),
    ("snips", ("test", None), SNIPS_EXPECTED),
])
def test_reads_both_layouts(layout, where, expected, request):
    root = request.getfixturevalue(layout)
    relative, split = where
    records = read_bio_dataset(root / relative if relative else root, split)
    assert simplify(records) == expected
    for text, _, entities in records:
        assert all(text[e.start:e.end] == e.value and e.source == "annotation" for e in entities)


def test_cais_tags_round_trip_through_to_bio(cais):
    blocks = [block.splitlines() for block in CAIS_TEST.strip("\n").split("\n\n")]
    for lines, (text, _, entities) in zip(blocks, read_bio_dataset(cais, "test")):
        tokens = [line.rpartition(" ")[0] for line in lines]
        tags = [line.rpartition(" ")[2] for line in lines]
        _, offsets = join_tokens(tokens, "")
        assert to_bio(entities, offsets, scheme="BIOES") == tags


@pytest.mark.parametrize("files, message", [
    ({"ch.test": CAIS_TEST, "ch.test.intent": "PlayMusic\n"}, "1 intents for 4 utterances"),
    ({"ch.test": "我 O\n要\n", "ch.test.intent": "x\n"}, r"ch.test:2: expected a token and a tag"),
    ({"ch.test": "我 O\n\n要 Q-x\n", "ch.test.intent": "x\ny\n"}, r"ch.test:3: unknown tag 'Q-x'"),
])
def test_cais_errors(tmp_path, files, message):
    write(tmp_path, files)
    with pytest.raises(DataError, match=message):
        read_bio_dataset(tmp_path, "test")


@pytest.mark.parametrize("files, message", [
    ({"seq.in": "a b\nc\n", "seq.out": "O O\n", "label": "x\ny\n"}, "have 2, 1 and 2 lines"),
    ({"seq.in": "a b\nc\n", "seq.out": "O O\nO O\n", "label": "x\ny\n"}, r"seq.out:2: 2 tags for 1 tokens"),
    ({"seq.in": "a\n", "seq.out": "O\n"}, "label not found"),
])
def test_snips_errors(tmp_path, files, message):
    write(tmp_path / "test", files)
    with pytest.raises(DataError, match=message):
        read_bio_dataset(tmp_path, "test")


def test_missing_dataset_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="no BIO data set found"):
        read_bio_dataset(tmp_path, "dev")
    with pytest.raises(DataError, match="no such file or directory"):
        read_bio_dataset(tmp_path / "nope", "test")
