"""The warehouse: typed tables, analytics views, engine factory and Alembic migrations."""

from models.db import DatabaseUnavailable, check_connection, make_engine, mask_url, session_factory
from models.tables import (
    Base,
    CrawlRun,
    Hashtag,
    HashtagSighting,
    Post,
    PostHashtag,
    Profile,
    ProfileNiche,
    ProfileSnapshot,
    RejectedRecord,
)

__all__ = [
    "Base",
    "CrawlRun",
    "DatabaseUnavailable",
    "Hashtag",
    "HashtagSighting",
    "Post",
    "PostHashtag",
    "Profile",
    "ProfileNiche",
    "ProfileSnapshot",
    "RejectedRecord",
    "check_connection",
    "make_engine",
    "mask_url",
    "session_factory",
]
