"""Papers, their metric history, and the log of every fetch."""

from __future__ import annotations

from urllib.parse import quote

from django.contrib.postgres.search import SearchVectorField
from django.db import models


class Source(models.TextChoices):
    HF = "hf", "Hugging Face API"
    HF_HTML = "hf-html", "Hugging Face HTML"
    ARXIV = "arxiv", "arXiv API"
    ARXIV_RSS = "arxiv-rss", "arXiv RSS"
    FILE = "file", "File"


class Paper(models.Model):
    """One paper, keyed by its arXiv id without version; every source merges into this row."""

    arxiv_id = models.CharField(max_length=40, unique=True)
    title = models.TextField()
    abstract = models.TextField(blank=True, default="")
    authors = models.JSONField(default=list, blank=True)  # names, in order
    published_at = models.DateTimeField(null=True, blank=True)
    hf_date = models.DateField(null=True, blank=True, db_index=True)
    upvotes = models.IntegerField(default=0)
    num_comments = models.IntegerField(default=0)
    github_repo = models.URLField(max_length=500, blank=True, default="")
    github_stars = models.IntegerField(null=True, blank=True)
    # When a fetch first saw its code link: for "code is out", told to readers sent it before.
    code_seen_at = models.DateTimeField(null=True, blank=True)
    project_page = models.URLField(max_length=500, blank=True, default="")
    thumbnail = models.URLField(max_length=500, blank=True, default="")  # the source's URL
    # Hugging Face: the organization that posted the paper ("Google", "NVIDIA"), its hub name
    # ("google"), and the images or videos attached to the paper page.
    organization = models.CharField(max_length=200, blank=True, default="")
    organization_slug = models.CharField(max_length=100, blank=True, default="")
    media_urls = models.JSONField(default=list, blank=True)
    # arXiv: the authors' comment (pages, "accepted at …", code links) and the journal reference.
    arxiv_comment = models.TextField(blank=True, default="")
    journal_ref = models.TextField(blank=True, default="")
    ai_summary = models.TextField(blank=True, default="")
    ai_keywords = models.JSONField(default=list, blank=True)
    categories = models.JSONField(default=list, blank=True)  # primary first
    sources = models.JSONField(default=list, blank=True)  # sorted Source values that saw it
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    hidden = models.BooleanField(default=False)
    featured = models.BooleanField(default=False)
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # PostgreSQL full-text vector (title A, authors B, abstract C), filled after each ingest
    # commits (papers.ingest.papers_search_index); NULL until then. Unused on SQLite.
    search_vector = SearchVectorField(null=True, blank=True, editable=False)

    class Meta:
        indexes = [
            models.Index(fields=["published_at"]),
            models.Index(fields=["hf_date", "upvotes"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(upvotes__gte=0), name="paper_upvotes_non_negative"
            ),
            models.CheckConstraint(
                condition=~models.Q(arxiv_id=""), name="paper_arxiv_id_not_empty"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.arxiv_id} {self.title[:60]}"

    @property
    def abs_url(self) -> str:
        return f"https://arxiv.org/abs/{self.arxiv_id}"

    @property
    def pdf_url(self) -> str:
        return f"https://arxiv.org/pdf/{self.arxiv_id}"

    @property
    def hf_url(self) -> str:
        return f"https://huggingface.co/papers/{self.arxiv_id}"

    @property
    def organization_url(self) -> str:
        """The organization's Hugging Face page, "" when its hub name is unknown."""
        # Quoted whole: a hub name is one path segment, whatever an edit put in the column.
        slug = quote(self.organization_slug.strip(), safe="")
        return f"https://huggingface.co/{slug}" if slug else ""


class PaperSearchIndex(models.Model):
    """A paper's row in SQLite's full-text index (FTS5, migration 0005), kept by triggers.

    Django neither creates nor writes it, and PostgreSQL has none (it searches
    Paper.search_vector). Search joins it to Paper by the rowid, which is the paper's id.
    """

    paper = models.OneToOneField(
        Paper,
        primary_key=True,
        db_column="rowid",
        db_constraint=False,
        on_delete=models.DO_NOTHING,  # the delete trigger removes the row
        related_name="search_index",
    )
    # FTS5's hidden column named after the table: the left side of MATCH, the argument of bm25.
    document = models.TextField(db_column="papers_paper_fts", editable=False)

    class Meta:
        managed = False
        db_table = "papers_paper_fts"

    def __str__(self) -> str:
        return f"search index of {self.paper_id}"


class PaperThumbnail(models.Model):
    """A paper's thumbnail as fetched by the worker, served by the site itself (never hot-linked).

    Kept in the database, not on disk, so that web and worker containers need no shared volume;
    the size is capped at fetch time (papers.thumbnails.THUMBNAIL_MAX_BYTES).
    """

    paper = models.OneToOneField(Paper, on_delete=models.CASCADE, related_name="thumbnail_file")
    source_url = models.URLField(max_length=500)  # the URL it was fetched from
    content_type = models.CharField(max_length=40, blank=True, default="")
    data = models.BinaryField(blank=True, default=b"")
    # The last failure ("too large", "HTTP 404", "not an image"); data is empty then.
    error = models.CharField(max_length=200, blank=True, default="")
    fetched_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"thumbnail of {self.paper_id}: {self.content_type or self.error}"


class PaperMetric(models.Model):
    """A snapshot of a paper's counters at one fetch, for trending growth."""

    paper = models.ForeignKey(Paper, on_delete=models.CASCADE, related_name="metrics")
    fetch_run = models.ForeignKey("FetchRun", on_delete=models.SET_NULL, null=True, blank=True)
    captured_at = models.DateTimeField()
    upvotes = models.IntegerField(default=0)
    num_comments = models.IntegerField(default=0)
    github_stars = models.IntegerField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["paper", "captured_at"])]


class FetchRun(models.Model):
    """One fetch from one source: what was asked, what came of it."""

    class Status(models.TextChoices):
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    source = models.CharField(max_length=20, choices=Source.choices)
    params = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.RUNNING)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created = models.IntegerField(default=0)
    updated = models.IntegerField(default=0)
    unchanged = models.IntegerField(default=0)
    skipped = models.IntegerField(default=0)
    error = models.TextField(blank=True, default="")
    # A source failing again before it succeeds updates its failed run instead of adding one:
    # the failed attempts this row stands for (started_at the first, finished_at the last),
    # and what kind of failure the last one was ("unreachable", "HTTP 503", "unparsable"...).
    failures = models.PositiveIntegerField(default=0)
    failure_kind = models.CharField(max_length=40, blank=True, default="")

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["source", "-started_at"])]

    def __str__(self) -> str:
        return f"{self.source} {self.started_at:%Y-%m-%d %H:%M} {self.status}"
