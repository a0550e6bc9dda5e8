"""Paper sources: each module has a pure `parse(raw: bytes) -> ParseResult` and a `fetch(...)`."""
