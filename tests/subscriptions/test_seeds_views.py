"""The manage page's "Papers like these" and "Less of this", and the seeds of the sign-up form.

Pasted ids, a BibTeX upload and an author each add the reader's examples; bad input of any kind
gets its message next to its field and stores nothing; a hostile client changes nothing. No test
touches the network: ids unknown here are fetched by a task queued after commit, which these
tests never run, and every `requests` call would fail.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import responses
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from hypothesis import example, given
from hypothesis import strategies as st
from playwright.sync_api import expect

from subscriptions import seeds as seeds_module
from subscriptions import tasks
from subscriptions.models import LESS_OF_MAX_CHARS, Seed, Subscriber
from subscriptions.tokens import Purpose, token_make
from tests.factories import PaperFactory, SubscriberFactory
from tests.helpers import FORM, SHOTS, WIDTHS
from tests.helpers_fuzz import FUZZ, state_counts, stored_state

pytestmark = pytest.mark.django_db

BIBTEX = b"""% Exported by Zotero
@article{vaswani2017attention,
  title = {Attention Is All You Need},
  author = {Vaswani, Ashish and Shazeer, Noam},
  year = {2017},
  eprint = {1706.03762},
  archivePrefix = {arXiv},
  primaryClass = {cs.CL},
}
@misc{dettmers2022llmint8,
  title = {{LLM.int8()}: 8-bit Matrix Multiplication for Transformers at Scale},
  author = {Dettmers, Tim},
  year = {2022},
  doi = {10.48550/arXiv.2208.07339},
}
@inproceedings{lovelace1843notes,
  title = {Notes on the Analytical Engine},
  author = {Lovelace, Ada},
  abstract = {What an engine that computes could do, with a program for Bernoulli numbers.},
  year = {1843},
}
"""


@pytest.fixture(autouse=True)
def _no_network() -> Iterator[responses.RequestsMock]:
    """Any `requests` call fails as if offline (none is expected: fetches run in the worker)."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        yield mocked


def _url(name: str, subscriber: Subscriber) -> str:
    token = token_make(
        subscriber_id=subscriber.pk, address=subscriber.email, purpose=Purpose.MANAGE
    )
    return reverse(f"subscriptions:{name}", kwargs={"token": token})


def _manage(subscriber: Subscriber) -> str:
    return _url("manage", subscriber)


def _seeds(subscriber: Subscriber) -> list[tuple[str, str, str]]:
    return list(
        Seed.objects.filter(subscriber=subscriber)
        .order_by("id")
        .values_list("arxiv_id", "status", "origin")
    )


def _bibtex(data: bytes, name: str = "library.bib") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="application/x-bibtex")


def _html(response: Any) -> str:
    return response.content.decode()


# --- The page --------------------------------------------------------------------------------


def test_the_manage_page_has_papers_like_these_less_of_this_and_a_link_to_the_signals(
    client: Client,
) -> None:
    subscriber = SubscriberFactory.create(less_of="benchmarks, surveys")
    token = token_make(
        subscriber_id=subscriber.pk, address=subscriber.email, purpose=Purpose.MANAGE
    )

    def url(name: str) -> str:
        return reverse(name, kwargs={"token": token})

    response = client.get(url("subscriptions:manage"))

    html = _html(response)
    assert response.status_code == 200
    assert "Papers like these" in html
    # Each form comes back to its section (#seeds), with its errors there when it has any.
    assert f'action="{url("subscriptions:manage-seeds-ids")}#seeds"' in html
    assert (
        f'action="{url("subscriptions:manage-seeds-file")}#seeds" '
        'enctype="multipart/form-data"' in html
    )
    assert f'action="{url("subscriptions:manage-seeds-author")}#seeds"' in html
    assert f'action="{url("subscriptions:manage-less-of")}#seeds"' in html
    assert 'value="benchmarks, surveys"' in html
    assert f'href="{url("digest:signals")}"' in html
    assert "No papers yet" in html


def test_each_seed_shows_its_title_or_id_and_its_status_in_words(client: Client) -> None:
    subscriber = SubscriberFactory.create()
    Seed.objects.create(
        subscriber=subscriber,
        arxiv_id="1706.03762",
        title="Attention Is All You Need",
        origin=Seed.Origin.ID,
        status=Seed.Status.READY,
    )
    Seed.objects.create(subscriber=subscriber, arxiv_id="2401.00001", origin=Seed.Origin.ID)
    Seed.objects.create(
        subscriber=subscriber,
        arxiv_id="2401.99999",
        origin=Seed.Origin.ID,
        status=Seed.Status.MISSING,
    )
    Seed.objects.create(subscriber=subscriber, source="Ada <Lovelace>", origin=Seed.Origin.AUTHOR)

    html = _html(client.get(_manage(subscriber)))

    assert "Attention Is All You Need" in html
    assert ">ready<" in html
    assert "arXiv:2401.00001" in html
    assert "being fetched from arXiv" in html
    assert "not found on arXiv" in html
    assert "looking up papers by Ada &lt;Lovelace&gt;…" in html  # escaped
    assert "Reload this page" in html  # some are pending: the reader is told to look again
    assert html.count(">Remove<") == 4
    assert "Remove all 4 papers" in html


# --- Adding -----------------------------------------------------------------------------------


def test_pasted_ids_and_links_are_added_and_unknown_ones_fetched_in_the_worker(
    client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    subscriber = SubscriberFactory.create()
    PaperFactory.create(arxiv_id="2310.06825", title="Mistral 7B")
    text = (
        "https://arxiv.org/pdf/2310.06825v2\nhttps://huggingface.co/papers/2402.17764, 2401.12345"
    )

    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = client.post(_url("manage-seeds-ids", subscriber), {"ids": text}, follow=True)

    [(location, status)] = response.redirect_chain
    assert status == 302
    # Back to the manage page (its token made anew, maybe a second later), at the section.
    assert location.startswith("/manage/")
    assert location.endswith("/#seeds")
    assert location.count("/") == 3
    assert "Added 3 papers; 2 are being fetched from arXiv." in _html(response)
    assert sorted(_seeds(subscriber)) == [
        ("2310.06825", Seed.Status.READY, Seed.Origin.ID),
        ("2401.12345", Seed.Status.PENDING, Seed.Origin.ID),
        ("2402.17764", Seed.Status.PENDING, Seed.Origin.ID),
    ]
    assert queued  # the fetch of the unknown ones, after commit, in the worker


def test_a_bibtex_export_is_added_by_arxiv_id_or_by_title_and_abstract(client: Client) -> None:
    subscriber = SubscriberFactory.create()

    response = client.post(
        _url("manage-seeds-file", subscriber), {"bibtex": _bibtex(BIBTEX)}, follow=True
    )

    assert response.status_code == 200
    assert "Added 3 papers" in _html(response)
    stored = Seed.objects.filter(subscriber=subscriber)
    assert {seed.arxiv_id for seed in stored} == {"1706.03762", "2208.07339", ""}
    text_seed = stored.get(arxiv_id="")
    assert text_seed.title == "Notes on the Analytical Engine"
    assert text_seed.status == Seed.Status.READY
    assert {seed.origin for seed in stored} == {Seed.Origin.BIBTEX}


@pytest.mark.parametrize(
    ("query", "origin"),
    [("Yoshua Bengio", Seed.Origin.AUTHOR), ("0000-0002-1825-0097", Seed.Origin.ORCID)],
)
def test_an_author_or_orcid_is_looked_up_in_the_worker(
    client: Client, query: str, origin: str
) -> None:
    subscriber = SubscriberFactory.create()

    response = client.post(_url("manage-seeds-author", subscriber), {"author": query}, follow=True)

    assert f"Looking up recent papers by {query} on arXiv" in _html(response)
    [seed] = Seed.objects.filter(subscriber=subscriber)
    assert (seed.origin, seed.status, seed.arxiv_id) == (origin, Seed.Status.PENDING, "")
    assert query in seed.source
    assert "looking up papers by" in _html(response)


# --- Bad input: a message next to the field, nothing stored -----------------------------------


def _assert_refused(response: Any, form: str, message: str) -> None:
    assert response.status_code == 400
    assert message in response.context[form].errors.as_text()
    # Shown in the form's own field group, as the field's error list.
    assert '<ul class="errorlist" id="id_' in _html(response)
    assert message in _html(response)
    assert not Seed.objects.exists()


def test_an_empty_paste_asks_for_an_id(client: Client) -> None:
    subscriber = SubscriberFactory.create()

    response = client.post(_url("manage-seeds-ids", subscriber), {"ids": "  \n "})

    _assert_refused(response, "ids_form", "Paste at least one arXiv id or link.")


def test_ten_thousand_pasted_ids_are_refused_whole(client: Client) -> None:
    subscriber = SubscriberFactory.create()
    text = "\n".join(f"2401.{n:05d}" for n in range(10_000))

    response = client.post(_url("manage-seeds-ids", subscriber), {"ids": text})

    assert response.status_code == 400
    assert response.context["ids_form"].errors["ids"]
    assert not Seed.objects.exists()


def test_text_without_any_arxiv_id_is_refused(client: Client) -> None:
    subscriber = SubscriberFactory.create()

    response = client.post(_url("manage-seeds-ids", subscriber), {"ids": "my favourite paper"})

    assert response.status_code == 400
    assert response.context["ids_form"].errors["ids"]
    assert not Seed.objects.exists()


def test_past_the_cap_of_seeds_nothing_is_added_and_the_reader_is_told_why(
    client: Client,
) -> None:
    subscriber = SubscriberFactory.create()
    Seed.objects.bulk_create(
        Seed(subscriber=subscriber, arxiv_id=f"2301.{n:05d}", origin=Seed.Origin.ID)
        for n in range(seeds_module.SEEDS_MAX - 1)
    )

    response = client.post(_url("manage-seeds-ids", subscriber), {"ids": "2401.00001 2401.00002"})

    assert response.status_code == 400
    assert f"at most {seeds_module.SEEDS_MAX} example papers" in _html(response)
    assert response.context["ids_form"].non_field_errors()
    assert Seed.objects.count() == seeds_module.SEEDS_MAX - 1


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "it looks like binary data"),
        ("@article{a, title={Caf\xe9}, eprint={2401.12345}}".encode("latin-1"), "not UTF-8 text"),
    ],
    ids=["binary", "latin-1"],
)
def test_a_file_that_is_not_utf8_text_is_refused(client: Client, data: bytes, message: str) -> None:
    subscriber = SubscriberFactory.create()

    response = client.post(_url("manage-seeds-file", subscriber), {"bibtex": _bibtex(data)})

    assert response.status_code == 400
    assert message in _html(response)
    assert list(response.context["file_form"].errors) == ["bibtex"]
    assert not Seed.objects.exists()


def test_a_file_just_over_the_cap_is_refused_by_the_form(client: Client) -> None:
    subscriber = SubscriberFactory.create()
    cap = int(seeds_module.BIBTEX_MAX_BYTES)
    data = b"% padding\n" * (cap // 10 + 1)

    response = client.post(_url("manage-seeds-file", subscriber), {"bibtex": _bibtex(data)})

    assert response.status_code == 400
    assert "That file is too large" in _html(response)
    assert not Seed.objects.exists()


def test_a_huge_upload_is_refused_before_its_body_is_read(client: Client) -> None:
    subscriber = SubscriberFactory.create()
    data = b"@misc{x, title={A}}\n" * (3 * int(seeds_module.BIBTEX_MAX_BYTES) // 20)

    response = client.post(_url("manage-seeds-file", subscriber), {"bibtex": _bibtex(data)})

    assert response.status_code == 413
    assert "That file is too large" in _html(response)
    assert not Seed.objects.exists()


@pytest.mark.parametrize(
    "post",
    [{}, {"bibtex": "not a file"}],
    ids=["no file", "a text field instead"],
)
def test_no_file_asks_for_one(client: Client, post: dict[str, Any]) -> None:
    subscriber = SubscriberFactory.create()

    response = client.post(_url("manage-seeds-file", subscriber), post)

    assert response.status_code == 400
    assert "Choose a BibTeX file" in _html(response)
    assert not Seed.objects.exists()


def test_an_empty_file_or_one_without_entries_is_refused(client: Client) -> None:
    subscriber = SubscriberFactory.create()

    for data in (b"", b"just some notes, no entries\n"):
        response = client.post(_url("manage-seeds-file", subscriber), {"bibtex": _bibtex(data)})
        assert response.status_code == 400
        assert response.context["file_form"].errors["bibtex"]
    assert not Seed.objects.exists()


@pytest.mark.parametrize(
    "query",
    ["0000-0002-1825-0098", "0000-0002-1825", "", "   ", "x" * 201],
    ids=["bad checksum", "too short", "empty", "spaces", "too long"],
)
def test_a_bad_orcid_or_empty_author_is_refused(client: Client, query: str) -> None:
    subscriber = SubscriberFactory.create()

    response = client.post(_url("manage-seeds-author", subscriber), {"author": query})

    assert response.status_code == 400
    assert response.context["author_form"].errors["author"]
    assert 'class="errorlist' in _html(response)
    assert not Seed.objects.exists()


# --- Removing ----------------------------------------------------------------------------------


def _seed(subscriber: Subscriber, arxiv_id: str) -> Seed:
    return Seed.objects.create(subscriber=subscriber, arxiv_id=arxiv_id, origin=Seed.Origin.ID)


def test_a_reader_removes_one_seed_or_all_of_them(client: Client) -> None:
    subscriber = SubscriberFactory.create()
    first, second, third = (_seed(subscriber, f"2401.0000{n}") for n in range(3))

    response = client.post(_url("manage-seed-remove", subscriber), {"seed": str(second.pk)})

    assert response.status_code == 302
    assert [arxiv_id for arxiv_id, *_ in _seeds(subscriber)] == ["2401.00000", "2401.00002"]

    response = client.post(_url("manage-seeds-clear", subscriber), follow=True)

    assert "Removed all 2 papers" in _html(response)
    assert not Seed.objects.filter(subscriber=subscriber).exists()


def test_another_readers_seed_cannot_be_removed(client: Client) -> None:
    reader, other = SubscriberFactory.create(), SubscriberFactory.create()
    theirs = _seed(other, "2401.00001")
    mine = _seed(reader, "2401.00002")

    for value in (str(theirs.pk), "abc", "", "-1", "٣", " 1", "9" * 30, str(2**63)):
        response = client.post(_url("manage-seed-remove", reader), {"seed": value})
        assert response.status_code == 404, value
        assert "That paper is not in your list" in _html(response)

    assert Seed.objects.filter(pk__in=[theirs.pk, mine.pk]).count() == 2


def test_remove_all_removes_only_the_readers_own(client: Client) -> None:
    reader, other = SubscriberFactory.create(), SubscriberFactory.create()
    _seed(reader, "2401.00001")
    theirs = _seed(other, "2401.00001")

    client.post(_url("manage-seeds-clear", reader))

    assert list(Seed.objects.all()) == [theirs]


# --- Less of this ------------------------------------------------------------------------------


def test_less_of_this_is_saved_cleaned_and_can_be_emptied(client: Client) -> None:
    subscriber = SubscriberFactory.create()

    response = client.post(
        _url("manage-less-of", subscriber),
        {"less_of": "  benchmarks,\n surveys\u200b "},
        follow=True,
    )

    subscriber.refresh_from_db()
    assert subscriber.less_of == "benchmarks, surveys"
    assert "Saved: less of benchmarks, surveys." in _html(response)

    client.post(_url("manage-less-of", subscriber), {"less_of": ""})
    subscriber.refresh_from_db()
    assert subscriber.less_of == ""


def test_a_too_long_less_of_this_is_refused_and_not_saved(client: Client) -> None:
    subscriber = SubscriberFactory.create(less_of="surveys")

    response = client.post(
        _url("manage-less-of", subscriber), {"less_of": "x" * (LESS_OF_MAX_CHARS + 1)}
    )

    assert response.status_code == 400
    assert f"under {LESS_OF_MAX_CHARS} characters" in _html(response)
    subscriber.refresh_from_db()
    assert subscriber.less_of == "surveys"


# --- Hostile clients ----------------------------------------------------------------------------

ENDPOINTS = [
    ("manage-seeds-ids", {"ids": "2401.12345"}),
    ("manage-seeds-file", {"bibtex": None}),
    ("manage-seeds-author", {"author": "Yoshua Bengio"}),
    ("manage-seed-remove", {"seed": "1"}),
    ("manage-seeds-clear", {}),
    ("manage-less-of", {"less_of": "surveys"}),
]


def _data(post: dict[str, Any]) -> dict[str, Any]:
    return {key: _bibtex(BIBTEX) if value is None else value for key, value in post.items()}


@pytest.mark.parametrize(("name", "post"), ENDPOINTS, ids=[name for name, _ in ENDPOINTS])
def test_a_forged_token_gets_a_clear_page_and_changes_nothing(
    client: Client, name: str, post: dict[str, Any]
) -> None:
    subscriber = SubscriberFactory.create()
    _seed(subscriber, "2401.00001")
    before = stored_state()
    real = token_make(subscriber_id=subscriber.pk, address=subscriber.email, purpose=Purpose.MANAGE)
    unsubscribe = token_make(
        subscriber_id=subscriber.pk, address=subscriber.email, purpose=Purpose.UNSUBSCRIBE
    )

    for token in (real[:-3] + "xyz", unsubscribe, "not-a-token"):
        url = reverse(f"subscriptions:{name}", kwargs={"token": token})
        response = client.post(url, _data(post))
        assert response.status_code == 400, token
        assert "This link is not valid" in _html(response)

    assert stored_state() == before


@pytest.mark.parametrize(("name", "post"), ENDPOINTS, ids=[name for name, _ in ENDPOINTS])
def test_every_form_needs_the_csrf_token(name: str, post: dict[str, Any]) -> None:
    subscriber = SubscriberFactory.create()
    _seed(subscriber, "2401.00001")
    before = stored_state()

    response = Client(enforce_csrf_checks=True).post(_url(name, subscriber), _data(post))

    assert response.status_code == 403
    assert stored_state() == before


@pytest.mark.parametrize("name", [name for name, _ in ENDPOINTS])
def test_a_get_changes_nothing(client: Client, name: str) -> None:
    subscriber = SubscriberFactory.create()
    _seed(subscriber, "2401.00001")
    before = stored_state()

    assert client.get(_url(name, subscriber)).status_code == 405
    assert stored_state() == before


# --- At sign-up ---------------------------------------------------------------------------------


def test_seeds_given_at_sign_up_are_stored_with_the_new_subscription(signup: Any) -> None:
    response = signup(seeds="https://arxiv.org/abs/2401.12345v3\n1706.03762")

    assert response.status_code == 303
    subscriber = Subscriber.objects.get()
    assert sorted(arxiv_id for arxiv_id, *_ in _seeds(subscriber)) == ["1706.03762", "2401.12345"]


def test_bad_seeds_at_sign_up_are_refused_on_the_form_and_nothing_is_stored(signup: Any) -> None:
    response = signup(seeds="not an id at all")

    assert response.status_code == 400
    assert list(response.context["form"].errors) == ["seeds"]
    assert not Subscriber.objects.exists()


def test_a_sign_up_for_a_confirmed_address_never_adds_seeds_to_it(signup: Any) -> None:
    reader = SubscriberFactory.create(email=FORM["email"])

    response = signup(seeds="2401.12345")

    assert response.status_code == 303  # the same answer as for any address
    assert not Seed.objects.filter(subscriber=reader).exists()


def test_the_web_queues_the_seeds_with_the_sign_up(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    queued: list[tuple[Any, ...]] = []
    monkeypatch.setattr(
        tasks.subscriber_subscribe_task, "apply_async", lambda args, **_: queued.append(args)
    )

    client.post("/subscribe/", {**FORM, "seeds": "2401.12345 2401.12345v2"})

    [(email, _preferences, seeds)] = queued
    assert (email, seeds) == (FORM["email"], ["2401.12345"])


# --- Fuzz ---------------------------------------------------------------------------------------

anything = st.text(max_size=80)
ID_LIKE = st.one_of(
    st.from_regex(r"\A(\d{4}\.\d{4,5}(v\d{1,2})?|[a-z\-]{2,10}/\d{7})\Z"),
    st.sampled_from(
        [
            "https://arxiv.org/abs/2401.12345",
            "https://arxiv.org/pdf/2401.12345v2.pdf",
            "https://huggingface.co/papers/2402.17764",
            "arXiv:1706.03762",
            "hep-th/9901001",
            "2401.1234567",
            "9999.99999",
        ]
    ),
)
PASTES = st.one_of(
    st.lists(st.one_of(ID_LIKE, anything), max_size=8).map("\n".join),
    anything,
    st.integers(1, 3000).map(lambda n: "2401.00001 " * n),
)
BIBTEX_BYTES = st.one_of(
    st.binary(max_size=400),
    st.text(max_size=400).map(str.encode),
    st.just(BIBTEX),
    st.builds(
        lambda head, body: f"@article{{{head}, title={{{body}}}, eprint={{2401.12345}}}}".encode(),
        anything,
        anything,
    ),
    st.integers(1, 200).map(lambda depth: b"@misc{a, title=" + b"{" * depth * 50 + b"}"),
    st.just(b"@misc{a, title={\\" + b"\\frac{\\alpha}{\\beta}" * 400 + b"}}"),
)
AUTHORS = st.one_of(
    anything,
    st.from_regex(r"\A\d{4}-\d{4}-\d{4}-\d{3}[\dX]\Z"),
    st.sampled_from(["https://orcid.org/0000-0002-1825-0097", "Yoshua Bengio", "a" * 300]),
)


@pytest.fixture
def reader() -> Any:
    """Per example: the stored state before, and a fresh reader with one seed and no others."""

    def fresh() -> tuple[Subscriber, dict[str, Any]]:
        Seed.objects.all().delete()
        Subscriber.objects.all().delete()
        subscriber = SubscriberFactory.create(email="ada@example.org", less_of="surveys")
        _seed(subscriber, "2401.00001")
        return subscriber, stored_state()

    return fresh


def _assert_unchanged_unless_accepted(response: Any, before: dict[str, Any]) -> None:
    assert response.status_code < 500
    if response.status_code != 302:
        assert response.status_code in (400, 404, 413)
        after = stored_state()
        assert after == before, (state_counts(before), state_counts(after))


@FUZZ
@given(text=PASTES)
@example(text="\x00")
def test_fuzzed_pastes_never_fail_and_store_nothing_when_refused(
    client: Client, reader: Any, text: str
) -> None:
    subscriber, before = reader()

    response = client.post(_url("manage-seeds-ids", subscriber), {"ids": text})

    _assert_unchanged_unless_accepted(response, before)
    if response.status_code == 400:
        assert response.context["ids_form"].errors


@FUZZ
@given(data=BIBTEX_BYTES, name=st.sampled_from(["library.bib", "x.png", "", "../../etc/passwd"]))
def test_fuzzed_uploads_never_fail_and_store_nothing_when_refused(
    client: Client, reader: Any, data: bytes, name: str
) -> None:
    subscriber, before = reader()

    response = client.post(
        _url("manage-seeds-file", subscriber), {"bibtex": SimpleUploadedFile(name or "f", data)}
    )

    _assert_unchanged_unless_accepted(response, before)
    if response.status_code == 400:
        assert response.context["file_form"].errors


@FUZZ
@given(query=AUTHORS)
def test_fuzzed_authors_never_fail_and_store_nothing_when_refused(
    client: Client, reader: Any, query: str
) -> None:
    subscriber, before = reader()

    response = client.post(_url("manage-seeds-author", subscriber), {"author": query})

    _assert_unchanged_unless_accepted(response, before)


@FUZZ
@given(seed=st.one_of(anything, st.integers(-(2**70), 2**70).map(str)), less_of=anything)
def test_fuzzed_removes_and_less_of_never_fail(
    client: Client, reader: Any, seed: str, less_of: str
) -> None:
    subscriber, before = reader()

    response = client.post(_url("manage-seed-remove", subscriber), {"seed": seed})
    _assert_unchanged_unless_accepted(response, before)

    response = client.post(_url("manage-less-of", subscriber), {"less_of": less_of})
    _assert_unchanged_unless_accepted(response, stored_state())
    subscriber.refresh_from_db()
    assert len(subscriber.less_of) <= LESS_OF_MAX_CHARS
    assert subscriber.less_of == subscriber.less_of.strip()


# --- In Chromium ---------------------------------------------------------------------------------


def _seeds_in_every_status(subscriber: Subscriber) -> None:
    Seed.objects.create(
        subscriber=subscriber,
        arxiv_id="1706.03762",
        title="Attention Is All You Need",
        origin=Seed.Origin.BIBTEX,
        status=Seed.Status.READY,
    )
    Seed.objects.create(
        subscriber=subscriber,
        title="Notes on the Analytical Engine, with a program for the numbers of Bernoulli",
        abstract="What an engine that computes could do.",
        origin=Seed.Origin.BIBTEX,
        status=Seed.Status.READY,
    )
    Seed.objects.create(subscriber=subscriber, arxiv_id="2401.12345", origin=Seed.Origin.ID)
    Seed.objects.create(
        subscriber=subscriber,
        arxiv_id="2401.99999",
        origin=Seed.Origin.ID,
        status=Seed.Status.MISSING,
    )
    Seed.objects.create(subscriber=subscriber, source="Yoshua Bengio", origin=Seed.Origin.AUTHOR)
    Seed.objects.create(
        subscriber=subscriber,
        source="0000-0002-1825-0097",
        origin=Seed.Origin.ORCID,
        status=Seed.Status.MISSING,
    )


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("device", list(WIDTHS))
def test_the_seeds_section_reads_well_and_fits_in_chromium(
    browser: Any, live_server: Any, device: str
) -> None:
    subscriber = SubscriberFactory.create(less_of="benchmarks, surveys")
    _seeds_in_every_status(subscriber)
    width, height = WIDTHS[device]
    context = browser.new_context(viewport={"width": width, "height": height})
    context.route(re.compile(r"^https?://(?!localhost|127\.0\.0\.1)"), lambda route: route.abort())
    page = context.new_page()
    try:
        page.goto(live_server.url + _manage(subscriber))
        section = page.locator("#seeds")
        expect(section.get_by_role("heading", name="Papers like these")).to_be_visible()
        for words in (
            "ready",
            "being fetched from arXiv",
            "not found on arXiv",
            "looking up papers by Yoshua Bengio…",
            "no papers found on arXiv for 0000-0002-1825-0097",
        ):
            expect(section.get_by_text(words, exact=True).first).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        SHOTS.mkdir(parents=True, exist_ok=True)
        section.screenshot(path=str(SHOTS / f"manage-seeds-{device}.png"))

        # An error comes back next to its field, in view, and stores nothing.
        page.get_by_label("arXiv ids or links").fill("my favourite paper")
        page.get_by_role("button", name="Add these papers").click()
        page.wait_for_load_state()
        expect(section.get_by_text("Not an arXiv id or link")).to_be_visible()
        section.screenshot(path=str(SHOTS / f"manage-seeds-error-{device}.png"))
        assert Seed.objects.filter(subscriber=subscriber).count() == 6

        # Removing one paper.
        section.get_by_role("button", name="Remove arXiv:2401.99999").click()
        page.wait_for_url("**#seeds")
        expect(page.get_by_text("Removed.")).to_be_visible()
        assert not Seed.objects.filter(arxiv_id="2401.99999").exists()
    finally:
        context.close()
