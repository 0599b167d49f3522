"""The KorQuAD near-miss protocol: a left-out paragraph's question whose gold answer is still in
an indexed paragraph of its article is set apart from the clean near misses."""

import json

from rag.eval.korquad import near_miss


def _korquad(path, paragraphs):
    data = {
        "data": [
            {
                "title": "서울",
                "paragraphs": [
                    {
                        "context": context,
                        "qas": [
                            {
                                "id": f"q{n}",
                                "question": question,
                                "answers": [{"text": answer, "answer_start": context.find(answer)}],
                            }
                        ],
                    }
                    for n, (context, question, answer) in enumerate(paragraphs)
                ],
            }
        ]
    }
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def test_a_left_out_answer_said_in_a_kept_paragraph_is_set_apart(tmp_path):
    path = _korquad(
        tmp_path / "kq.json",
        [
            ("서울시는 2004년에 대중교통 체계를 개편했다.", "체계를 개편한 해는?", "2004 년"),
            ("2004년 개편 뒤 버스는 파란색이 되었다.", "버스는 무슨 색이 되었나?", "파란색"),
        ],
    )
    seen = set()
    for seed in range(8):  # either paragraph is left out, depending on the seed
        selection = near_miss("dev", 0.5, seed=seed, path=path)
        (left,) = [q for q in selection.questions if not q["answerable"]]
        (kept,) = [q for q in selection.questions if q["answerable"]]
        # "2004 년" (spaced otherwise) is in the second paragraph; "파란색" is not in the first.
        assert left["answer_elsewhere"] is (left["id"] == "q0")
        assert kept["answer_elsewhere"] is False
        assert [name for name, _, _ in selection.files] == [kept["gold"]]
        seen.add(left["id"])
    assert seen == {"q0", "q1"}
