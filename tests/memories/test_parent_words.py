"""Receipts and exports in plain words (issue 12, point 8); the CSV keeps each machine value
next to its readable one."""

import csv
import io

from django.urls import reverse

from memories import exports, services
from memories.erasure import erasure_run, erasure_start


def test_the_csv_has_readable_columns_next_to_machine_values(family, gw):
    record = services.memory_add(actor=family.parent_a, child=family.child_a, text="Rahul hates spinach",
                                 category="routines")
    services.memory_rate(actor=family.parent_a, child=family.child_a, memory_id=record.id,
                         rating="VERY_NEGATIVE", reason="old")
    rows = list(csv.DictReader(io.StringIO("".join(exports.csv_chunks(family.child_a)))))
    row = next(r for r in rows if r["id"] == record.id)
    assert (row["rating"], row["rating_label"]) == ("VERY_NEGATIVE", "Never use")
    assert (row["kind"], row["kind_label"]) == ("parent", "Added by a parent")
    assert (row["category"], row["category_label"]) == ("routines", "Routines")
    assert list(rows[0]).index("rating_label") == list(rows[0]).index("rating") + 1


def test_the_receipt_names_each_store_in_words_without_engine_jargon(family, gw, login):
    services.memory_add(actor=family.parent_a, child=family.child_a, text="Rahul likes kites")
    done = erasure_run(erasure_start(scope="memories", origin="parent", actor=family.parent_a,
                                     child=family.child_a, enqueue=False).pk)
    body = login(family.parent_a).get(reverse("privacy:erasure_detail", args=[done.reference])).content.decode()
    assert "The memories themselves (what the toy searches)" in body
    for jargon in ("Mem0", "vectors", "entities", "memory engine", "profile_syncs"):
        assert jargon not in body
