"""Reading seeds: pasted arXiv ids and links, BibTeX exports, author names and ORCID iDs.

Whatever arrives, the answer is a result or a SeedError with a message for the reader: never
another exception, never a long wait (the fuzz tests at the end hold that).
"""

from __future__ import annotations

import string
import time
from collections.abc import Callable
from typing import TypeVar

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from subscriptions.seeds import (
    BIBTEX_MAX_BYTES,
    BIBTEX_MAX_DEPTH,
    BIBTEX_MAX_ENTRIES,
    IDS_MAX_ITEMS,
    SEEDS_MAX,
    BibtexResult,
    SeedError,
    SeedInput,
    author_parse,
    bibtex_parse,
    ids_parse,
)
from tests.helpers_fuzz import FUZZ

T = TypeVar("T")
R = TypeVar("R")

# --- Pasted ids and links ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2401.01234", "2401.01234"),
        ("2401.01234v3", "2401.01234"),
        ("0704.0001", "0704.0001"),
        ("1412.6529v2", "1412.6529"),
        ("hep-th/9901001", "hep-th/9901001"),
        ("hep-th/9901001v2", "hep-th/9901001"),
        ("math.GT/0309136", "math.GT/0309136"),
        ("math.gt/0309136v1", "math.GT/0309136"),
        ("arXiv:2401.01234", "2401.01234"),
        ("arxiv:2401.01234v2", "2401.01234"),
        ("arXiv: 2401.01234", "2401.01234"),
        ("arXiv:hep-th/9901001", "hep-th/9901001"),
        ("https://arxiv.org/abs/2401.01234", "2401.01234"),
        ("http://arxiv.org/abs/2401.01234v1", "2401.01234"),
        ("arxiv.org/abs/2401.01234", "2401.01234"),
        ("https://www.arxiv.org/abs/2401.01234/", "2401.01234"),
        ("https://arxiv.org/abs/2401.01234?context=cs.LG", "2401.01234"),
        ("https://arxiv.org/pdf/2401.01234", "2401.01234"),
        ("https://arxiv.org/pdf/2401.01234v2", "2401.01234"),
        ("https://arxiv.org/pdf/2401.01234v2.pdf", "2401.01234"),
        ("https://arxiv.org/pdf/2401.01234.pdf", "2401.01234"),
        ("https://arxiv.org/pdf/hep-th/9901001v1.pdf", "hep-th/9901001"),
        ("https://arxiv.org/abs/math.GT/0309136", "math.GT/0309136"),
        ("https://arxiv.org/html/2401.01234v1", "2401.01234"),
        ("https://export.arxiv.org/abs/2401.01234", "2401.01234"),
        ("http://export.arxiv.org/pdf/2401.01234v4", "2401.01234"),
        ("https://huggingface.co/papers/2511.11793", "2511.11793"),
        ("huggingface.co/papers/2511.11793#community", "2511.11793"),
        ("<https://arxiv.org/abs/2401.01234>", "2401.01234"),
        ("(2401.01234).", "2401.01234"),
    ],
)
def test_every_form_of_id_or_link_gives_the_versionless_id(text: str, expected: str) -> None:
    assert ids_parse(text) == [expected]


def test_many_ids_in_any_separators_keep_their_order_and_come_once() -> None:
    text = (
        "2401.01234v1, https://arxiv.org/abs/2312.00001\n"
        "hep-th/9901001;2401.01234v3\t\tarXiv:2312.00001\r\n\n  0704.0001  "
    )
    assert ids_parse(text) == ["2401.01234", "2312.00001", "hep-th/9901001", "0704.0001"]


@pytest.mark.parametrize(
    "text",
    [
        "1234.5678",  # no month 34
        "0703.0001",  # new-style ids began in April 2007
        "2401.1234",  # four digits after 2015
        "hep-th/9913001",  # no month 13
        "https://example.com/abs/2401.01234",
        "https://arxiv.org/list/cs.LG/recent",
        "doi:10.1000/xyz",
        "banana",
    ],
)
def test_what_is_not_an_id_is_refused_and_named(text: str) -> None:
    with pytest.raises(SeedError) as error:
        ids_parse(f"2401.01234 {text}")
    assert repr(text)[1:-1][:30] in str(error.value)
    assert "Not an arXiv id or link" in str(error.value)


def test_only_the_first_few_bad_items_are_named() -> None:
    with pytest.raises(SeedError, match=r"'a', 'b', 'c' and 2 more"):
        ids_parse("a b c d e 2401.01234")


@pytest.mark.parametrize("text", ["", "   ", "\n,\n;"])
def test_nothing_pasted_is_a_clear_error(text: str) -> None:
    with pytest.raises(SeedError, match="Paste at least one"):
        ids_parse(text)


def test_ten_thousand_ids_are_refused_at_once_with_a_clear_message() -> None:
    text = "\n".join(f"2401.{n:05d}" for n in range(10_000))
    started = time.perf_counter()
    with pytest.raises(SeedError, match="too much to paste at once"):
        ids_parse(text)
    assert time.perf_counter() - started < 0.5


def test_more_items_than_the_cap_are_refused_even_when_short() -> None:
    with pytest.raises(SeedError, match=f"at most {IDS_MAX_ITEMS} ids"):
        ids_parse("x " * (IDS_MAX_ITEMS + 1))


# --- BibTeX -----------------------------------------------------------------------------------

# As Zotero exports an arXiv preprint (its "Export Collection…" with the BibTeX format).
ZOTERO = rb"""
@misc{vaswani_attention_2023,
	title = {Attention {Is} {All} {You} {Need}},
	url = {http://arxiv.org/abs/1706.03762},
	doi = {10.48550/arXiv.1706.03762},
	abstract = {The dominant sequence transduction models are based on complex recurrent or
convolutional neural networks in an encoder-decoder configuration.},
	urldate = {2024-01-05},
	publisher = {arXiv},
	author = {Vaswani, Ashish and Shazeer, Noam and Parmar, Niki},
	month = aug,
	year = {2023},
	note = {arXiv:1706.03762 [cs]},
	keywords = {Computer Science - Computation and Language, Computer Science - Machine Learning},
}

@article{frantar_gptq_2023,
	title = {{GPTQ}: {Accurate} {Post}-{Training} {Quantization} for {Generative}
		{Pre}-trained {Transformers}},
	shorttitle = {{GPTQ}},
	url = {https://arxiv.org/abs/2210.17323v2},
	journal = {ICLR},
	author = {Frantar, Elias and Ashkboos, Saleh},
	year = {2023},
}

@inproceedings{leviathan_fast_2023,
	title = {Fast {Inference} from {Transformers} via {Speculative} {Decoding}},
	booktitle = {Proceedings of the 40th {International} {Conference} on {Machine} {Learning}},
	publisher = {PMLR},
	author = {Leviathan, Yaniv and Kalman, Matan and Matias, Yossi},
	year = {2023},
	pages = {19274--19286},
	abstract = {Inference from large autoregressive models like Transformers is slow - decoding
{K} tokens takes {K} serial runs of the model. In this work we introduce speculative decoding -
an algorithm to sample from autoregressive models faster \textit{without} any changes to the
outputs.},
}

@book{knuth_art_1997,
	address = {Reading, Mass},
	title = {The {Art} of {Computer} {Programming}},
	publisher = {Addison-Wesley},
	author = {Knuth, Donald E.},
	year = {1997},
}
"""

# As Mendeley Desktop exports it: arxivId, archivePrefix and eprint, upper-case field names.
MENDELEY = rb"""Automatically generated by Mendeley Desktop 1.19.8
Any changes to this file will be lost if it is regenerated by Mendeley.

BibTeX export options can be customized via Options -> BibTeX in Mendeley Desktop

@article{He2015,
archivePrefix = {arXiv},
arxivId = {1512.03385},
author = {He, Kaiming and Zhang, Xiangyu and Ren, Shaoqing and Sun, Jian},
eprint = {1512.03385},
file = {:home/reader/Documents/Mendeley Desktop/He et al. - 2015 - Deep Residual Learning.pdf:pdf},
mendeley-groups = {Vision},
title = {{Deep Residual Learning for Image Recognition}},
url = {http://arxiv.org/abs/1512.03385},
year = {2015}
}
@Article{Hochreiter1997,
Author = {Hochreiter, Sepp and Schmidhuber, J{\"{u}}rgen},
Title = {{Long Short-Term Memory}},
Journal = {Neural Computation},
Abstract = {Learning to store information over extended time intervals by recurrent
backpropagation takes a very long time, mostly because of insufficient, decaying error
backflow. We briefly review Hochreiter's (1991) analysis of this problem, then address it by
introducing a novel, efficient, gradient-based method called long short-term memory (LSTM).},
Year = {1997}
}
"""

# As Google Scholar's "Cite > BibTeX" gives it: the id only in the journal field.
GOOGLE_SCHOLAR = rb"""@article{devlin2018bert,
  title={Bert: Pre-training of deep bidirectional transformers for language understanding},
  author={Devlin, Jacob and Chang, Ming-Wei and Lee, Kenton and Toutanova, Kristina},
  journal={arXiv preprint arXiv:1810.04805},
  year={2018}
}
@inproceedings{kingma2014adam,
  title={Adam: A method for stochastic optimization},
  author={Kingma, Diederik P and Ba, Jimmy},
  booktitle={International Conference on Learning Representations},
  year={2015}
}
"""

# biblatex (Zotero's Better BibTeX, JabRef): eprinttype instead of archivePrefix, an old id.
BIBLATEX = rb"""@online{witten_1998,
  author     = {Witten, Edward},
  title      = {Anti {de} {Sitter} Space and Holography},
  eprinttype = {arxiv},
  eprint     = {hep-th/9802150v2},
  date       = {1998},
}
@article{notarxiv_2020,
  title      = {A {PubMed} paper},
  eprinttype = {pubmed},
  eprint     = {1234.56789},
  abstract   = {Not an arXiv eprint, but a title and an abstract make it a text seed.},
}
"""

LATEX = rb"""@article{mueller_2019,
  title = {On {M}{\"u}ller's $\alpha$--stable {L\'evy} processes \emph{with} jumps},
  abstract = {We study \textbf{stable} processes~\cite{levy1925} in $\mathbb{R}^d$ and show
    that Erd\H{o}s' bound holds \cite[Thm.~2]{erdos}. See Section~\ref{sec:main}.},
}
"""


def test_a_zotero_export_gives_ids_from_url_and_doi_and_a_text_seed_from_an_abstract() -> None:
    result = bibtex_parse(ZOTERO)

    assert result.seeds[0] == SeedInput(arxiv_id="1706.03762", title="Attention Is All You Need")
    assert result.seeds[1].arxiv_id == "2210.17323"
    assert result.seeds[1].title.startswith("GPTQ: Accurate Post-Training Quantization")
    text_seed = result.seeds[2]
    assert text_seed.arxiv_id == ""
    assert text_seed.title == "Fast Inference from Transformers via Speculative Decoding"
    assert "decoding K tokens takes K serial runs" in text_seed.abstract
    assert "without any changes" in text_seed.abstract
    assert len(result.seeds) == 3
    assert result.skipped == 1  # Knuth: no arXiv id, no abstract


def test_a_mendeley_export_gives_its_arxiv_ids_and_decodes_accents() -> None:
    result = bibtex_parse(MENDELEY)

    assert [seed.arxiv_id for seed in result.seeds] == ["1512.03385", ""]
    assert result.seeds[0].title == "Deep Residual Learning for Image Recognition"
    assert result.seeds[1].title == "Long Short-Term Memory"
    assert result.seeds[1].abstract.startswith("Learning to store information")
    assert result.skipped == 0


def test_a_google_scholar_export_gives_the_id_from_its_journal_field() -> None:
    result = bibtex_parse(GOOGLE_SCHOLAR)

    assert result == BibtexResult(
        seeds=[
            SeedInput(
                arxiv_id="1810.04805",
                title="Bert: Pre-training of deep bidirectional transformers for language "
                "understanding",
            )
        ],
        skipped=1,
    )


def test_biblatex_eprinttype_counts_only_for_arxiv() -> None:
    result = bibtex_parse(BIBLATEX)

    assert result.seeds[0].arxiv_id == "hep-th/9802150"
    assert result.seeds[1].arxiv_id == ""  # a PubMed eprint is not an arXiv id
    assert result.seeds[1].title == "A PubMed paper"


def test_latex_becomes_plain_text_with_math_kept_and_citations_dropped() -> None:
    (seed,) = bibtex_parse(LATEX).seeds

    assert seed.title == "On Müller's $\\alpha$–stable Lévy processes with jumps"
    assert "\\cite" not in seed.abstract
    assert "levy1925" not in seed.abstract
    assert "stable processes in $\\mathbb{R}^d$" in seed.abstract
    assert "Erdős' bound holds." in seed.abstract
    assert "{" not in seed.abstract.replace("{R}^d", "")


def test_an_id_given_twice_is_one_seed() -> None:
    twice = ZOTERO + b"\n@misc{again, title={Again}, eprint={1706.03762v5}, archivePrefix={arXiv}}"
    result = bibtex_parse(twice)

    assert [seed.arxiv_id for seed in result.seeds].count("1706.03762") == 1


def test_a_bom_and_windows_line_ends_are_fine() -> None:
    result = bibtex_parse(b"\xef\xbb\xbf" + GOOGLE_SCHOLAR.replace(b"\n", b"\r\n"))

    assert result.seeds[0].arxiv_id == "1810.04805"


def test_a_broken_entry_is_skipped_and_counted_the_rest_is_read() -> None:
    broken = GOOGLE_SCHOLAR + b"\n@article{cut, title={Unclosed, author={Someone}\n"
    result = bibtex_parse(broken)

    assert result.seeds[0].arxiv_id == "1810.04805"
    assert result.skipped >= 1


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"   \n\t ", "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\x00", "binary"),
        ("@article{x, title={Caf\xe9}, eprint={2401.01234}}".encode("latin-1"), "UTF-8"),
        (b"@article{x, title={a\x07b}, eprint={2401.01234}}", "control characters"),
        (b"Just some notes, no entries at all.", "No BibTeX entries"),
        (b"@book{k, title={A book}, author={Someone}}", "nothing to learn from"),
    ],
)
def test_unreadable_files_are_refused_with_a_clear_message(data: bytes, message: str) -> None:
    with pytest.raises(SeedError, match=message):
        bibtex_parse(data)


def test_a_file_over_the_size_limit_is_refused_unread() -> None:
    data = GOOGLE_SCHOLAR + b"%" * BIBTEX_MAX_BYTES
    with pytest.raises(SeedError, match="too large"):
        bibtex_parse(data)


def test_more_entries_than_the_limit_are_refused() -> None:
    entry = b"@misc{k%d, title={T}}\n"
    data = b"".join(entry % n for n in range(BIBTEX_MAX_ENTRIES + 1))
    with pytest.raises(SeedError, match=f"the limit is {BIBTEX_MAX_ENTRIES:,}"):
        bibtex_parse(data)


def test_more_usable_entries_than_a_reader_can_keep_are_refused() -> None:
    entry = b"@misc{k%d, eprint={2401.%05d}, archivePrefix={arXiv}}\n"
    data = b"".join(entry % (n, n + 1) for n in range(SEEDS_MAX + 1))
    with pytest.raises(SeedError, match=f"at most {SEEDS_MAX} example papers"):
        bibtex_parse(data)


@pytest.mark.parametrize("depth", [BIBTEX_MAX_DEPTH + 1, 5_000, 200_000])
def test_deeply_nested_braces_are_refused_quickly(depth: int) -> None:
    data = b"@article{a, title={" + b"{" * depth + b"x" + b"}" * depth + b"}, abstract={y}}"
    started = time.perf_counter()
    with pytest.raises(SeedError, match="nests braces"):
        bibtex_parse(data)
    assert time.perf_counter() - started < 1


def test_nesting_within_the_limit_is_read() -> None:
    depth = BIBTEX_MAX_DEPTH - 2
    data = b"@article{a, title={" + b"{" * depth + b"x" + b"}" * depth + b"}, abstract={y}}"
    assert bibtex_parse(data).seeds == [SeedInput(title="x", abstract="y")]


def test_a_full_size_file_of_latex_heavy_entries_is_read_in_reasonable_time() -> None:
    abstract = rb"We show that $\alpha$-stable M{\"u}ller maps \emph{converge} \cite{x}. " * 12
    entry = b"@article{k%d, title={Entry %d on \\textit{stable} maps}, abstract={%s}}\n"
    data = b"".join(entry % (n, n, abstract) for n in range(SEEDS_MAX))
    started = time.perf_counter()
    result = bibtex_parse(data)
    assert len(result.seeds) == SEEDS_MAX
    assert time.perf_counter() - started < 5


# --- Authors and ORCID iDs --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0000-0002-1825-0097", ("orcid", "0000-0002-1825-0097")),  # ORCID's own example
        ("https://orcid.org/0000-0002-1825-0097", ("orcid", "0000-0002-1825-0097")),
        ("http://orcid.org/0000-0002-1825-0097/", ("orcid", "0000-0002-1825-0097")),
        ("orcid.org/0000-0001-5109-3700", ("orcid", "0000-0001-5109-3700")),
        ("0000-0002-1694-233x", ("orcid", "0000-0002-1694-233X")),  # check character X
        ("0000000218250097", ("orcid", "0000-0002-1825-0097")),
        ("Adrian Del Maestro", ("author", "Adrian Del Maestro")),
        ("  Adrian   Del Maestro ", ("author", "Adrian Del Maestro")),
        ("J. R. R. Tolkien", ("author", "J. R. R. Tolkien")),
        ("Jean-Pierre Serre", ("author", "Jean-Pierre Serre")),
        ("Shaquille O'Neal", ("author", "Shaquille O'Neal")),
        ("Jürgen Schmidhuber", ("author", "Jürgen Schmidhuber")),
        ("Yann LeCun", ("author", "Yann LeCun")),
        ("李飞飞", ("author", "李飞飞")),
    ],
)
def test_orcid_ids_and_author_names_are_recognised(text: str, expected: tuple[str, str]) -> None:
    assert author_parse(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0000-0002-1825-0098", "not a valid ORCID iD"),  # checksum off by one
        ("https://orcid.org/0000-0002-1825-009X", "not a valid ORCID iD"),
        ("https://orcid.org/0000-0002-1825", "not an ORCID iD"),
        ("0000-0002-1825-00971", "not an ORCID iD"),
        ("", "Give an author's name"),
        ("   ", "Give an author's name"),
        ("A", "2 to 100 characters"),
        ("A" * 101, "2 to 100 characters"),
        ('au:"x" OR cat:cs.LG', "not a name we can look up"),
        ("Robert'); DROP TABLE", "not a name we can look up"),
        ("R2-D2", "not a name we can look up"),
        ("Adrian -- Del Maestro", "not a name we can look up"),
        ("<script>", "not a name we can look up"),
    ],
)
def test_bad_author_queries_are_refused_with_a_clear_message(text: str, message: str) -> None:
    with pytest.raises(SeedError, match=message):
        author_parse(text)


# --- Fuzz: a result or a SeedError, nothing else, and quickly -----------------------------------

ID_PIECES = st.sampled_from(
    [
        "2401.01234",
        "2401.01234v2",
        "hep-th/9901001",
        "https://arxiv.org/abs/",
        "https://arxiv.org/pdf/",
        ".pdf",
        "huggingface.co/papers/",
        "arXiv:",
        " ",
        ",",
        "\n",
        "v",
        "/",
        "0704.0001",
    ]
)
id_texts = st.one_of(
    st.text(max_size=200),
    st.lists(st.one_of(ID_PIECES, st.text(max_size=5)), max_size=40).map("".join),
)
BIB_PIECES = st.sampled_from(
    [
        "@article{",
        "@misc(",
        "@string{a = {b}}",
        "@comment{",
        "@preamble{",
        "title = {",
        "abstract = ",
        "eprint = {2401.01234}",
        "archivePrefix = {arXiv}",
        "url = {https://arxiv.org/abs/2401.01234}",
        "doi = {10.48550/arXiv.2401.01234}",
        "{",
        "}",
        '"',
        ",",
        "#",
        "=",
        "\\",
        "\\emph{",
        '\\"u',
        "$\\alpha$",
        "%",
        "\n",
        "\\begin{",
        "\\end{",
        "\\cite{",
        "~",
    ]
)
bib_bytes = st.one_of(
    st.binary(max_size=300),
    st.lists(st.one_of(BIB_PIECES, st.text(max_size=6)), max_size=60).map(
        lambda parts: "".join(parts).encode("utf-8", "surrogatepass")
    ),
)


def outcome(parse: Callable[[T], R], value: T) -> R | SeedError:
    """What a parser gives: its result, or its SeedError (which must have a message)."""
    try:
        return parse(value)
    except SeedError as error:
        if not str(error):
            pytest.fail(f"a SeedError without a message for {value!r}")
        return error


@FUZZ
@given(text=id_texts)
@example(text="arXiv:" * 100)
@example(text="https://arxiv.org/abs/" + "1" * 5000)
def test_fuzz_ids_parse_gives_ids_or_a_seed_error(text: str) -> None:
    started = time.perf_counter()
    ids = outcome(ids_parse, text)
    if not isinstance(ids, SeedError):
        assert ids
        assert len(ids) == len(set(ids))
        assert all(ids_parse(arxiv_id) == [arxiv_id] for arxiv_id in ids)
    assert time.perf_counter() - started < 1


@FUZZ
@given(data=bib_bytes)
@example(data=b"@article{" * 50)
@example(data=b"@string{a = a # a # a}\n@article{x, title = a # a, abstract = a}")
@example(data=b"@article{x, title={\\begin{itemize}}, abstract={\\end{x}}}")
def test_fuzz_bibtex_parse_gives_seeds_or_a_seed_error(data: bytes) -> None:
    started = time.perf_counter()
    result = outcome(bibtex_parse, data)
    if not isinstance(result, SeedError):
        assert result.seeds
        assert result.skipped >= 0
        for seed in result.seeds:
            assert seed.arxiv_id or (seed.title and seed.abstract)
            assert len(seed.title) <= 500
    assert time.perf_counter() - started < 2


@FUZZ
@given(
    text=st.one_of(
        st.text(max_size=120),
        st.text(alphabet=string.digits + "-Xx/:.orcidhtps", max_size=45),
        st.from_regex(r"\d{4}-\d{4}-\d{4}-\d{3}[\dX]", fullmatch=True),
    )
)
def test_fuzz_author_parse_gives_an_orcid_a_name_or_a_seed_error(text: str) -> None:
    parsed = outcome(author_parse, text)
    if not isinstance(parsed, SeedError):
        kind, value = parsed
        assert kind in ("orcid", "author")
        assert value == value.strip()
        assert 2 <= len(value) <= 100
        if kind == "orcid":
            assert author_parse(value) == ("orcid", value)
