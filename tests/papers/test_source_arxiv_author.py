"""An author's papers from arXiv: the API searched by name, the author feed read for an ORCID iD."""

from __future__ import annotations

import datetime as dt

import pytest
import responses
from django.core.cache import cache

from papers.models import FetchRun
from papers.services import papers_fetch_arxiv_author
from papers.sources import arxiv_api
from tests.helpers import fixture_bytes

AUTHOR_SEARCH = "arxiv_atom/2016-10-09_api_query_search-au-del_maestro_max10_OLD-FORMAT.xml"


def test_an_author_is_searched_as_a_phrase_and_quotes_cannot_break_out() -> None:
    assert arxiv_api.search_query(author="Adrian Del Maestro") == 'au:"Adrian Del Maestro"'
    assert arxiv_api.search_query(author='a" OR cat:cs.LG "b') == 'au:"a OR cat:cs.LG b"'
    assert (
        arxiv_api.search_query(category="cs.LG", author="Yann LeCun", until=dt.date(2025, 1, 2))
        == 'cat:cs.LG AND au:"Yann LeCun" AND submittedDate:[202501020000 TO 202501022359]'
    )


def test_the_author_feed_parser_reads_arxiv_atom_entries_like_the_api_parser() -> None:
    # The real author search is the closest captured Atom; no .atom2 body was found to copy.
    raw = fixture_bytes(AUTHOR_SEARCH)

    assert arxiv_api.author_feed_parse(raw) == arxiv_api.parse(raw)


@pytest.mark.django_db
def test_a_look_up_asked_twice_is_fetched_twice_never_answered_by_a_304() -> None:
    cache.clear()
    with responses.RequestsMock() as mock:
        mock.get(
            arxiv_api.API_URL,
            body=fixture_bytes(AUTHOR_SEARCH),
            headers={"ETag": '"feed-v1"'},
        )
        first = papers_fetch_arxiv_author(name="Adrian Del Maestro", limit=3)
        second = papers_fetch_arxiv_author(name="Adrian Del Maestro", limit=3)
        sent = [call.request.headers.get("If-None-Match") for call in mock.calls]

    assert first.arxiv_ids == second.arxiv_ids == ("1412.6529", "1312.6177", "1303.6954")
    assert sent == [None, None]
    assert first.run.status == FetchRun.Status.SUCCEEDED


def test_a_look_up_needs_a_name_or_an_orcid_not_both() -> None:
    with pytest.raises(ValueError, match="not both"):
        papers_fetch_arxiv_author(name="A B", orcid="0000-0002-1825-0097")
    with pytest.raises(ValueError, match="not both"):
        papers_fetch_arxiv_author()
