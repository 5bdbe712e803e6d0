from pathlib import Path

import pytest

from kefu.errors import DataError
from kefu.knowledge.documents import MAX_CHARS, load_folder, read_document, read_faq


def test_faq_rows_become_passages_with_file_and_line(knowledge_dir: Path) -> None:
    passages = read_faq(knowledge_dir / "faq.csv")
    assert len(passages) == 6
    first, third = passages[0], passages[2]
    assert first.id == "refund-time" and first.source == "faq.csv:2" and first.lang == "en"
    assert (
        first.text_for_search
        == "How long does a refund take?\nRefunds reach your card within 5-7 business days."
    )
    # no id column value: the source is the id; a quoted answer over two lines keeps its newline
    assert third.id == third.source == "faq.csv:4"
    assert third.answer.endswith('Edit address".\nYou can change it until the parcel ships.')
    assert passages[3].source == "faq.csv:6" and passages[3].lang == "zh"  # line count includes line 5
    assert passages[0].answer == passages[1].answer  # two phrasings, one answer


def test_faq_can_index_questions_only(knowledge_dir: Path) -> None:
    passages = read_faq(knowledge_dir / "faq.csv", search_text="question")
    assert passages[3].text_for_search == "退款多久到账？"


def test_markdown_is_cut_at_headings_and_small_paragraphs_merged(knowledge_dir: Path) -> None:
    passages = read_document(knowledge_dir / "shipping.md")
    by_title = {}
    for p in passages:
        by_title.setdefault(p.title, []).append(p)
    assert list(by_title) == ["Shipping", "Delivery times", "Customs"]
    (delivery,) = by_title["Delivery times"]
    assert delivery.answer == (
        "Standard delivery takes 3 to 5 working days.\n\nExpress delivery takes one working day in major cities."
    )
    assert delivery.source == "shipping.md#Delivery times" and delivery.id == "shipping.md:7"
    assert delivery.text_for_search.startswith("Delivery times\n")
    customs = by_title["Customs"]
    assert customs[0].answer.startswith("```\n# this is not a heading\n```")  # fenced '#' is no heading
    assert len(customs) > 2 and all(len(p.answer) <= MAX_CHARS for p in passages)
    # the long paragraph was cut at sentence ends, not inside words
    assert all(p.answer.endswith(".") or p.answer.endswith("```") for p in customs)


def test_text_file_without_headings_takes_the_file_name_as_title(knowledge_dir: Path) -> None:
    (passage,) = read_document(knowledge_dir / "notes.txt")
    assert passage.title == "notes" and passage.source == "notes.txt"
    assert passage.answer == "会员每月可以领取一张优惠券。\n\n优惠券不能叠加使用。"


def test_long_chinese_paragraph_is_cut_at_full_stops(tmp_path: Path) -> None:
    path = tmp_path / "long.md"
    path.write_text("# 规则\n\n" + "这是一条很长的规则说明。" * 100, encoding="utf-8")
    passages = read_document(path, max_chars=100)
    assert len(passages) > 5
    assert all(len(p.answer) <= 100 and p.answer.endswith("。") for p in passages)


def test_folder_reads_all_known_files_and_skips_hidden_and_others(knowledge_dir: Path) -> None:
    hidden = knowledge_dir / ".index"
    hidden.mkdir()
    (hidden / "stale.md").write_text("# old\n\nshould not be read", encoding="utf-8")
    sources = {p.source.split(":")[0].split("#")[0] for p in load_folder(knowledge_dir)}
    assert sources == {"faq.csv", "notes.txt", "shipping.md"}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("question,reply\nhi,hello\n", "faq.csv:1: missing column 'answer'"),
        ("question,answer\nhi,hello\nbye,\n", "faq.csv:3: empty answer"),
        ("question,answer\nhi,hello\n, hello\n", "faq.csv:3: empty question"),
        ("question,answer\n", "faq.csv:1: no FAQ rows"),
        ('question,answer\nhi,"hello\n', "faq.csv:2: malformed record"),
        ("question,answer\nhi,hello\nhow long, really,a week\n", "faq.csv:3: 3 fields, the header has 2"),
    ],
)
def test_bad_faq_names_file_and_line(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "faq.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError) as error:
        read_faq(path)
    assert f"{tmp_path}/{message}" in str(error.value)


def test_undecodable_bytes_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "guide.md"
    path.write_bytes("# 标题\n\n正文\n".encode() + "第四行".encode("gbk"))
    with pytest.raises(DataError, match=r"guide\.md:4: not valid UTF-8"):
        read_document(path)


def test_duplicate_ids_across_files_are_rejected(knowledge_dir: Path) -> None:
    (knowledge_dir / "more.csv").write_text(
        "id,question,answer\nrefund-time,Refund?,Soon.\n", encoding="utf-8"
    )
    with pytest.raises(
        DataError, match=r"more\.csv:2: duplicate id 'refund-time' \(first used at faq\.csv:2\)"
    ):
        load_folder(knowledge_dir)


def test_empty_or_missing_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="knowledge folder not found"):
        load_folder(tmp_path / "nope")
    with pytest.raises(DataError, match="no passages found"):
        load_folder(tmp_path)
