"""`explorer.RecentPosts`: which successors the search skips putting in canonical form again."""

from __future__ import annotations

import pytest

from nfct_spec.engines import explorer
from nfct_spec.engines.explorer import RecentPosts
from nfct_spec.models.config import Config
from nfct_spec.models.presets import RELIABLE
from nfct_spec.models.registry import successors
from nfct_spec.models.state import initial_state


def test_a_post_is_new_once_until_the_set_is_cleared(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(explorer, "RECENT_POSTS", 3)
    config = Config(
        name="t", variant="2.6.31", nf_conntrack_max=1, flows=3, slots=2, listeners=(RELIABLE,)
    )
    posts = [post for _, post in successors(config, initial_state(config))]
    assert len(set(posts)) == 3
    recent = RecentPosts()
    assert [recent.first_time(p) for p in posts] == [True, True, True]
    assert [recent.first_time(p) for p in posts] == [False, False, False]
    assert len(recent.posts) == 3
    extra = next(post for _, post in successors(config, posts[0]) if post not in posts)
    assert recent.first_time(extra)  # full: cleared, then remembered
    assert recent.posts == {extra}
    assert recent.first_time(posts[0]) and not recent.first_time(posts[0])
