"""First comments on the Graph API: make one under a published post, or find the one made before.

`POST /{object-id}/comments` with `message` works on a Facebook Page post and on an Instagram
medium alike. Nothing makes it idempotent, so before any second try the object's comments are
read (`GET /{object-id}/comments`, every page up to MAX_PAGES) for one by the account itself with
the same text: Facebook names its author in `from.id` and its text `message`, Instagram `text`.
"""

from __future__ import annotations

from typing import Any

from services.publisher.platforms.graph_api import GraphClient
from services.publisher.platforms.instagram import CONTAINER_PREFIX
from services.publisher.platforms.outcomes import OutcomeUnknown, Permanent, Target

PAGE_LIMIT = 100
MAX_PAGES = 20  # 2,000 comments within minutes of publication: past that, the answer is unknown


def commented_object(platform_post_id: str | None) -> str:
    """The Graph node a first comment goes under; Permanent when it is not known."""
    if not platform_post_id:
        raise Permanent("the post has no platform id to comment on")
    if platform_post_id.startswith(CONTAINER_PREFIX):
        # Found published through its container after an error answer: Meta never said the media id.
        raise Permanent("the post was found published through its container; its media id, and so the place "
                        "of a comment, is unknown")
    return platform_post_id


class GraphComments:
    def __init__(self, graph: GraphClient) -> None:
        self._graph = graph

    async def publish(self, platform_post_id: str | None, text: str, target: Target) -> str:
        node = commented_object(platform_post_id)
        body = await self._graph.call("POST", f"{node}/comments", token=target.credentials["access_token"],
                                      meter=target.meter, params={"message": text})
        return str(body["id"])

    async def find(self, platform_post_id: str | None, text: str, target: Target) -> str | None:
        """The id of this account's comment with this text under the post, if there is one;
        OutcomeUnknown when there are several or too many to read."""
        node = commented_object(platform_post_id)
        # Each platform refuses the other's field name.
        fields = "id,text,from" if target.platform == "instagram" else "id,message,from"
        params: dict[str, Any] = {"fields": fields, "limit": PAGE_LIMIT}
        # Instagram names a comment's author by an Instagram-scoped id, not the ig-user-id: the
        # account's own comments are told by its username.
        me = await self._username(target) if target.platform == "instagram" else ""
        found: list[str] = []
        async for data in self._graph.listing(f"{node}/comments", token=target.credentials["access_token"],
                                              meter=target.meter, params=params, max_pages=MAX_PAGES,
                                              what="the post's comments"):
            found += [str(c["id"]) for c in data if isinstance(c, dict) and _is_ours(c, text, target, me)]
        if len(found) > 1:
            raise OutcomeUnknown(f"{len(found)} comments by this account with this text are under the post")
        return found[0] if found else None


    async def _username(self, target: Target) -> str:
        body = await self._graph.call("GET", target.external_id, token=target.credentials["access_token"],
                                      meter=target.meter, params={"fields": "username"})
        name = str(body.get("username") or "")
        if not name:
            raise OutcomeUnknown("the Instagram account's username could not be read to recognise its comments")
        return name


def _same_text(a: Any, b: str) -> bool:
    """Meta may trim a comment or change its line breaks."""
    return isinstance(a, str) and a.replace("\r\n", "\n").strip() == b.replace("\r\n", "\n").strip()


def _is_ours(comment: dict[str, Any], text: str, target: Target, username: str) -> bool:
    author: dict[str, Any] = comment["from"] if isinstance(comment.get("from"), dict) else {}
    if username:  # Instagram
        by_us = username in (comment.get("username"), author.get("username"))
        return by_us and _same_text(comment.get("text"), text)
    return str(author.get("id", "")) == target.external_id and _same_text(comment.get("message"), text)
