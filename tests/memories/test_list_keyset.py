"""The parent's memory list pages by keyset: page numbers in the URL for the first pages,
then a cursor; page 1 and every keyset page read only their rows through the namespace
index (no sort of the namespace); the total is exact without a filter (one row) and counted
only up to a limit with one."""

import re
import uuid

import psycopg
import pytest

from memories import selectors
from memories.gateway import ListFilter, LocalGateway

N = selectors.COUNT_LIMIT + 2 * selectors.PAGE_SIZE + 7  # past the count limit, past the shallow pages


@pytest.fixture
def many(family, gw):
    ns = family.child_a.namespace
    texts = [f"memory number {i}" for i in range(N)]
    ids = gw.bulk_insert(ns, texts, vectors=[[((i % 89) + 1) / 100.0] * 384 for i in range(N)])
    return ids  # newest first


def plan(gw, sql, params):
    with psycopg.connect(LocalGateway.django_dsn(), autocommit=True) as conn, conn.transaction():
        conn.execute("SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off")
        return "\n".join(r[0] for r in conn.execute("EXPLAIN " + sql, params).fetchall())


def test_page_one_and_keyset_pages_use_the_namespace_index_without_a_sort(gw, many, family):
    ns = family.child_a.namespace
    cursor = gw.list([ns], limit=50, total=False).items[-1].cursor
    for sql, params in (gw.list_sql(ns, limit=51), gw.list_sql(ns, limit=51, after=cursor)):
        shown = plan(gw, sql, params)
        assert "_ns_created_idx" in shown and "Sort" not in shown, shown
    assert "_namespaces_pkey" in plan(gw, *gw.count_sql(ns, limit=selectors.COUNT_LIMIT))  # one row
    filtered = plan(gw, *gw.count_sql(ns, flt=ListFilter(kinds=("learned",)), limit=selectors.COUNT_LIMIT))
    assert "Limit" in filtered


def test_the_list_goes_by_number_then_by_cursor_through_every_memory(family, many, client, gw):
    client.force_login(family.parent_a)
    url = f"/children/{family.child_a.pk}/memories/"
    body = client.get(url).content.decode()
    total = gw.count([family.child_a.namespace])  # the memories, and the profile when pushed
    assert f"{total} memories" in body and "page 1 of 23" in body  # exact without a filter
    filtered = client.get(url + "?kind=learned").content.decode()
    assert f"More than {selectors.COUNT_LIMIT} memories" in filtered
    seen, link, numbered = [], url, 0
    while link:
        body = client.get(link).content.decode()
        seen += re.findall(r'id="memory-([0-9a-f-]{36})"', body)
        older = re.search(r'<a href="([^"]+)"[^>]*>Older →</a>', body)
        link = older.group(1).replace("&amp;", "&") if older else None
        if link and link.startswith("?"):
            link = url + link
        numbered += bool(link and "page=" in link)
    assert seen == many  # all of them, newest first, once each
    assert numbered == selectors.SHALLOW_PAGES - 1  # then cursors
    third = client.get(url + "?page=3").content.decode()
    assert re.findall(r'id="memory-([0-9a-f-]{36})"', third) == many[100:150]
    assert "Page 3" in third


def test_a_cursor_that_is_not_ours_shows_page_one(family, many, client):
    client.force_login(family.parent_a)
    body = client.get(f"/children/{family.child_a.pk}/memories/?after=nonsense|{uuid.uuid4()}x").content.decode()
    assert re.findall(r'id="memory-([0-9a-f-]{36})"', body)[:3] == many[:3]
